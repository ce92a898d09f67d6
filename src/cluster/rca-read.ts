// What `flapwatch rca` reads from Prometheus for a window ending at a time: failures by Service, verdict and node,
// the dependencies they named, the service graph, and when each Service was first seen failing.
import { EDGE_LABELS } from '../report/metrics/edges';
import { edgeEnds, readGraph } from './graph-read';
import type { PrometheusClient } from './prometheus';
import type { RcaInput } from './rca';

export interface RcaQuery {
  /** a PromQL duration: 5m */
  window: string;
  windowMs: number;
  /** ms since the epoch */
  atMs: number;
}

const key = (namespace: string | undefined, name: string | undefined) => (name ? `${namespace ?? ''}/${name}` : '');

/**
 * When each Service was first seen failing: the first step of the window whose last minute (or two steps, when
 * longer) counted a failure. A minute holds two scrapes at the ServiceMonitor's 30 s interval, so increase() sees it.
 */
async function firstFailing(prom: PrometheusClient, q: RcaQuery): Promise<Record<string, number>> {
  const stepMs = Math.max(1000, Math.round(q.windowMs / 60));
  const range = `${Math.max(60, Math.ceil((2 * stepMs) / 1000))}s`;
  const series = await prom.queryRange(`sum by (namespace, service) (increase(flapwatch_health_failures_total[${range}])) > 0`, q.atMs - q.windowMs, q.atMs, stepMs);
  const out: Record<string, number> = {};
  for (const s of series) {
    const service = key(s.labels.namespace, s.labels.service);
    if (service && s.points.length) out[service] = s.points[0]![0];
  }
  return out;
}

export async function readRca(prom: PrometheusClient, q: RcaQuery): Promise<RcaInput> {
  const w = q.window;
  const [failures, dependencies, graph, first, ever] = await Promise.all([
    prom.query(`sum by (namespace, service, verdict, instance) (increase(flapwatch_health_failures_total[${w}]))`, q.atMs),
    prom.query(`sum by (namespace, service, dependency_namespace, dependency, verdict) (increase(flapwatch_failure_dependencies_total[${w}]))`, q.atMs),
    readGraph(prom, { window: w, atMs: q.atMs, namespace: '' }),
    firstFailing(prom, q),
    // a counter a node's daemon still exports: that client called that Service since the daemon started
    prom.query(`count by (${EDGE_LABELS.join(', ')}) (flapwatch_edge_connections_total{result="attempted"} > 0)`, q.atMs),
  ]);
  return {
    failures: failures
      .map((s) => ({ service: key(s.labels.namespace, s.labels.service), verdict: s.labels.verdict ?? '', node: s.labels.instance ?? '', count: s.value }))
      .filter((f) => f.service && f.count > 0),
    dependencies: dependencies
      .map((s) => ({ service: key(s.labels.namespace, s.labels.service), dependency: key(s.labels.dependency_namespace, s.labels.dependency), verdict: s.labels.verdict ?? '', count: s.value }))
      .filter((d) => d.service && d.dependency && d.count > 0),
    graph,
    calledEver: ever.map((s) => edgeEnds(s.labels)),
    firstFailing: first,
  };
}
