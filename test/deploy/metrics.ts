// The metric contract: every name, type and label flapwatch exports (README's metrics section, with the
// label values that are a closed set). The ONE list the dashboard and alert checks use; a check of the
// daemon's real /metrics against it belongs here too.
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface MetricContract {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  labels: readonly string[];
  /** labels whose values are a closed set */
  values?: Readonly<Record<string, readonly string[]>>;
}

export const SOURCES = [
  'drops', 'drop_samples', 'retransmits', 'conntrack', 'kubeproxy', 'kubernetes', 'kubelet', 'active_probes', 'listen_overflows',
  'cpu_throttling', 'connections', 'netns_scope', 'dns',
] as const;

export const MECHANISMS = [
  'no-endpoints', 'conntrack-insert-failed', 'conntrack-table-full', 'conntrack-invalid', 'netfilter-drop', 'kernel-drop',
] as const;

/** a mechanism, or two joined by "+" when the evidence cannot tell them apart */
export const MECHANISM_VALUES: readonly string[] = [
  ...MECHANISMS,
  ...MECHANISMS.flatMap((a, i) => MECHANISMS.slice(i + 1).map((b) => `${a}+${b}`)),
];

export const VERDICTS = [...MECHANISMS, 'listen-overflow', 'retransmits', 'dns-timeout', 'dns-error', 'cpu-throttled', 'none'] as const;

export const DNS_RESULTS = ['answered', 'nxdomain', 'servfail', 'other_rcode', 'unanswered'] as const;

export const CONNTRACK_STATS = [
  'found', 'invalid', 'insert', 'insert_failed', 'drop', 'early_drop', 'error', 'search_restart', 'clash_resolve', 'chaintoolong',
] as const;

export const RULES = [
  'reject_no_endpoints', 'drop_no_local_endpoints', 'drop_invalid', 'firewall_drop', 'drop_localnet', 'drop_marked',
  'reject_invalid_port', 'drop_unallocated_ip',
] as const;

const DIRECTIONS = ['to_service', 'from_service', 'node'] as const;
/** an edge of the service graph: a workload of the client's node → a Service port */
const EDGE = ['client_namespace', 'client_kind', 'client_workload', 'namespace', 'service', 'port'] as const;
const PROBE_PATHS = ['cluster_ip', 'pod', 'url'] as const;
const perSource = (name: string, type: MetricContract['type']): MetricContract => ({
  name, type, labels: ['source'], values: { source: SOURCES },
});

export const METRICS: readonly MetricContract[] = [
  {
    name: 'flapwatch_drops_total', type: 'counter',
    labels: ['reason', 'location', 'namespace', 'service', 'direction', 'mechanism'],
    values: { direction: DIRECTIONS, mechanism: MECHANISM_VALUES },
  },
  { name: 'flapwatch_tcp_retransmits_total', type: 'counter', labels: ['namespace', 'service', 'direction'], values: { direction: DIRECTIONS } },
  { name: 'flapwatch_conntrack_stat_total', type: 'counter', labels: ['stat'], values: { stat: CONNTRACK_STATS } },
  { name: 'flapwatch_conntrack_entries', type: 'gauge', labels: [] },
  { name: 'flapwatch_conntrack_max', type: 'gauge', labels: [] },
  { name: 'flapwatch_conntrack_unreplied_flows', type: 'gauge', labels: ['namespace', 'service'] },
  { name: 'flapwatch_conntrack_unanswered_flows_total', type: 'counter', labels: ['namespace', 'service'] },
  { name: 'flapwatch_kubeproxy_rule_packets_total', type: 'counter', labels: ['namespace', 'service', 'rule'], values: { rule: RULES } },
  { name: 'flapwatch_kubeproxy_rule_problems_total', type: 'counter', labels: ['problem'] },
  { name: 'flapwatch_kubeproxy_missing_pieces', type: 'gauge', labels: ['kind'], values: { kind: ['table', 'map'] } },
  {
    name: 'flapwatch_health_failures_total', type: 'counter', labels: ['namespace', 'service', 'source', 'verdict'],
    values: { source: ['kubelet', 'event', 'endpointslice', 'active'], verdict: VERDICTS },
  },
  {
    name: 'flapwatch_health_probes_total', type: 'counter', labels: ['namespace', 'service', 'path', 'result'],
    values: { path: PROBE_PATHS, result: ['success', 'failure'] },
  },
  {
    name: 'flapwatch_health_probe_retries_total', type: 'counter', labels: ['namespace', 'service', 'path', 'result'],
    values: { path: PROBE_PATHS, result: ['recovered', 'failed'] },
  },
  { name: 'flapwatch_listen_overflows_total', type: 'counter', labels: ['namespace', 'pod'] },
  { name: 'flapwatch_pod_cpu_throttled_seconds_total', type: 'counter', labels: ['namespace', 'service'] },
  { name: 'flapwatch_dns_queries_total', type: 'counter', labels: ['namespace', 'service', 'result'], values: { result: DNS_RESULTS } },
  { name: 'flapwatch_dns_latency_seconds', type: 'histogram', labels: ['namespace', 'service'] },
  { name: 'flapwatch_edge_drops_total', type: 'counter', labels: [...EDGE, 'mechanism'], values: { mechanism: MECHANISM_VALUES } },
  { name: 'flapwatch_edge_retransmits_total', type: 'counter', labels: EDGE },
  { name: 'flapwatch_failure_dependencies_total', type: 'counter', labels: ['namespace', 'service', 'dependency_namespace', 'dependency', 'verdict'], values: { verdict: VERDICTS } },
  { name: 'flapwatch_workload_services', type: 'gauge', labels: ['namespace', 'kind', 'workload', 'service_namespace', 'service'] },
  { name: 'flapwatch_bpf_map_capacity', type: 'gauge', labels: ['map'], values: { map: ['drops', 'retransmits'] } },
  { name: 'flapwatch_edge_connections_total', type: 'counter', labels: [...EDGE, 'result'], values: { result: ['attempted', 'established', 'failed'] } },
  { name: 'flapwatch_edge_connect_seconds', type: 'histogram', labels: EDGE },
  perSource('flapwatch_source_up', 'gauge'),
  perSource('flapwatch_source_errors_total', 'counter'),
  perSource('flapwatch_events_lost_total', 'counter'),
  perSource('flapwatch_events_rate_limited_total', 'counter'),
  { name: 'flapwatch_build_info', type: 'gauge', labels: ['version', 'revision', 'node_version'] },
];

/**
 * The series the recording rules make (deploy/prometheus/flapwatch-rules.yaml, group flapwatch-graph): summed
 * across nodes, so without instance. The dashboard's Node Graph reads them; rules.test.ts checks that the rules
 * record exactly these names, and the Prometheus test exactly these labels.
 */
export const RECORDED: readonly MetricContract[] = [
  { name: 'edge:flapwatch_edge_connections:rate5m', type: 'gauge', labels: [...EDGE, 'result'], values: { result: ['attempted', 'established', 'failed'] } },
  { name: 'edge:flapwatch_edge_connect_failures:ratio_rate5m', type: 'gauge', labels: EDGE },
  { name: 'edge:flapwatch_edge_drops:rate5m', type: 'gauge', labels: [...EDGE, 'mechanism'], values: { mechanism: MECHANISM_VALUES } },
  { name: 'edge:flapwatch_edge_retransmits:rate5m', type: 'gauge', labels: EDGE },
  { name: 'edge:flapwatch_edge_connect_seconds_bucket:rate5m', type: 'gauge', labels: [...EDGE, 'le'] },
  { name: 'edge:flapwatch_edge_connect_seconds:quantile_rate5m', type: 'gauge', labels: [...EDGE, 'quantile'], values: { quantile: ['0.5', '0.9', '0.99'] } },
  { name: 'service:flapwatch_health_failures:rate5m', type: 'gauge', labels: ['namespace', 'service', 'verdict'], values: { verdict: VERDICTS } },
  {
    name: 'service:flapwatch_failure_dependencies:rate5m', type: 'gauge', labels: ['namespace', 'service', 'dependency_namespace', 'dependency', 'verdict'],
    values: { verdict: VERDICTS },
  },
  { name: 'workload:flapwatch_workload_services:max', type: 'gauge', labels: ['namespace', 'kind', 'workload', 'service_namespace', 'service'] },
];

/** Labels Prometheus adds to every series it scrapes (the ServiceMonitor sets instance to the node's name). */
export const TARGET_LABELS = ['instance', 'job'] as const;

/** prom-client's process_* and nodejs_* defaults, as the installed prom-client defines them. */
export async function defaultMetrics(): Promise<MetricContract[]> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const json = await registry.getMetricsAsJSON();
  return json.map((m) => ({
    name: m.name,
    type: String(m.type) as MetricContract['type'],
    labels: [...new Set(m.values.flatMap((v) => Object.keys(v.labels)).filter((l) => l !== 'le' && l !== 'quantile'))],
  }));
}

/** Every series name a metric exposes (a histogram's _bucket, _sum and _count). */
export function seriesNames(m: MetricContract): string[] {
  return m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name];
}

/** The whole contract: flapwatch's metrics, the recorded series and the defaults, keyed by series name. */
export async function contract(): Promise<Map<string, MetricContract>> {
  const all = [...METRICS, ...RECORDED, ...(await defaultMetrics())];
  const twice = all.map((m) => m.name).filter((n, i, names) => names.indexOf(n) !== i);
  if (twice.length) throw new Error(`in the contract twice: ${twice.join(', ')}`);
  return new Map(all.flatMap((m) => seriesNames(m).map((s) => [s, m] as const)));
}
