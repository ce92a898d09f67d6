// The service graph read from Prometheus over a window ending at a time: the edge counters' increases summed
// across nodes (the same sums the recording rules in deploy/prometheus/flapwatch-rules.yaml keep over 5m), the
// connect-latency quantiles from the edge histogram, and the workloads' Services. Raw counters rather than the
// recorded series: any window, and a Prometheus without flapwatch's rules answers too.
import { EDGE_LABELS } from '../report/metrics/edges';
import type { GraphEdge, ServiceGraph } from './graph';
import type { InstantSample, PrometheusClient } from './prometheus';

const EDGE = EDGE_LABELS.join(', ');

export interface GraphQuery {
  /** a PromQL duration: 15m, 1h */
  window: string;
  /** ms since the epoch */
  atMs: number;
  /** only the edges from or to this namespace; '' = all */
  namespace: string;
}

/** `sum by (by) (increase(metric[window]))`, keeping only the edges from or to `namespace` when one is given. */
function edgeIncrease(metric: string, by: string, q: Pick<GraphQuery, 'window' | 'namespace'>): string {
  const inc = (sel: string) => `increase(${metric}${sel}[${q.window}])`;
  const inner = q.namespace ? `${inc(`{client_namespace="${q.namespace}"}`)} or ${inc(`{namespace="${q.namespace}"}`)}` : inc('');
  return `sum by (${by}) (${inner})`;
}

const connectQuantile = (quantile: number, q: Pick<GraphQuery, 'window' | 'namespace'>) =>
  `histogram_quantile(${quantile}, ${edgeIncrease('flapwatch_edge_connect_seconds_bucket', `${EDGE}, le`, q)})`;

const edgeKey = (l: Record<string, string>) => EDGE_LABELS.map((k) => l[k] ?? '').join('\u0000');

/** The client workload and the Service an edge series' labels name. */
export function edgeEnds(l: Record<string, string>): Pick<GraphEdge, 'client' | 'service'> {
  return {
    client: { namespace: l.client_namespace ?? '', kind: l.client_kind ?? '', name: l.client_workload ?? '' },
    service: { namespace: l.namespace ?? '', name: l.service ?? '' },
  };
}

/** The service graph in the window ending at q.atMs. */
export async function readGraph(prom: PrometheusClient, q: GraphQuery): Promise<ServiceGraph> {
  const at = q.atMs;
  const [connections, drops, retransmits, p50, p90, backs] = await Promise.all([
    prom.query(edgeIncrease('flapwatch_edge_connections_total', `${EDGE}, result`, q), at),
    prom.query(edgeIncrease('flapwatch_edge_drops_total', `${EDGE}, mechanism`, q), at),
    prom.query(edgeIncrease('flapwatch_edge_retransmits_total', EDGE, q), at),
    prom.query(connectQuantile(0.5, q), at),
    prom.query(connectQuantile(0.9, q), at),
    prom.query(`max by (namespace, kind, workload, service_namespace, service) (max_over_time(flapwatch_workload_services[${q.window}]))`, at),
  ]);
  const edges = new Map<string, GraphEdge>();
  const edge = (l: Record<string, string>): GraphEdge => {
    const key = edgeKey(l);
    let e = edges.get(key);
    if (!e) {
      e = {
        ...edgeEnds(l),
        port: l.port ?? '',
        attempted: 0, established: 0, failed: 0, drops: {}, retransmits: 0,
      };
      edges.set(key, e);
    }
    return e;
  };
  const finite = (list: InstantSample[]) => list.filter((s) => Number.isFinite(s.value));
  for (const s of finite(connections)) {
    const r = s.labels.result;
    if (r === 'attempted' || r === 'established' || r === 'failed') edge(s.labels)[r] += s.value;
  }
  for (const s of finite(drops)) {
    const e = edge(s.labels);
    const m = s.labels.mechanism ?? '';
    e.drops[m] = (e.drops[m] ?? 0) + s.value;
  }
  for (const s of finite(retransmits)) edge(s.labels).retransmits += s.value;
  // a quantile only for an edge already seen: NaN (no connects in the window) says nothing
  for (const s of finite(p50)) if (edges.has(edgeKey(s.labels))) edge(s.labels).connectP50 = s.value;
  for (const s of finite(p90)) if (edges.has(edgeKey(s.labels))) edge(s.labels).connectP90 = s.value;
  return {
    edges: [...edges.values()],
    backs: backs.map((s) => ({
      workload: { namespace: s.labels.namespace ?? '', kind: s.labels.kind ?? '', name: s.labels.workload ?? '' },
      service: { namespace: s.labels.service_namespace ?? '', name: s.labels.service ?? '' },
    })),
  };
}

/** How many nodes' flapwatch Prometheus scraped in the window. */
export async function reportingNodes(prom: PrometheusClient, window: string, atMs: number): Promise<number> {
  const r = await prom.query(`count(count by (instance) (max_over_time(flapwatch_source_up[${window}])))`, atMs);
  return r[0]?.value ?? 0;
}
