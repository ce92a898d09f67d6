import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { SourceStats } from '../../src/observe/source';
import { dropsMetric } from '../../src/report/metrics/drops';
import { connectBuckets, CONNECT_BOUNDS_S, edgeMetrics } from '../../src/report/metrics/edges';
import { conntrackMetrics } from '../../src/report/metrics/conntrack';
import { kubeProxyMetrics } from '../../src/report/metrics/kubeproxy';
import { createRegistry } from '../../src/report/metrics/registry';
import { attributeGroup } from '../../src/services/attribute';
import { ServiceIndex } from '../../src/services/index';
import type { ConntrackReading } from '../../src/kernel/conntrack-source';
import { retransmitsMetric } from '../../src/report/metrics/retransmits';
import { sourceMetrics } from '../../src/report/metrics/sources';
import { TextRegistry } from '../../src/report/metrics/text-registry';
import { attributedConnection as connection, attributedDrop as drop, attributedRetransmit as retransmit, WEB } from '../fixtures/observations';

/** The sample lines of one metric family, without HELP/TYPE. */
async function lines(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

test('drops_total counts loss packets by reason and function, not benign frees', async () => {
  const registry = new Registry();
  const drops = dropsMetric(registry, { labelCap: 100 });
  drops.add([
    drop({ packets: 3 }),
    drop({ packets: 2, location: 'nft_do_chain' }),
    drop({ packets: 5, reasonName: 'NO_SOCKET', reason: 3, location: 'udp_queue_rcv_one_skb' }),
    drop({ packets: 7, reasonName: 'QUEUE_PURGE', reason: 104, loss: false }),
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_drops_total'), [
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="nft_do_chain",namespace="",service="",direction="node",mechanism="netfilter-drop"} 5',
    'flapwatch_drops_total{reason="NO_SOCKET",location="udp_queue_rcv_one_skb",namespace="",service="",direction="node",mechanism="netfilter-drop"} 5',
  ]);
});

test('drops_total labels the Service (not its port), the direction and the mechanisms, joined when two', async () => {
  const registry = new Registry();
  dropsMetric(registry, { labelCap: 100 }).add([
    drop({ packets: 4, service: WEB, direction: 'to_service', mechanisms: ['no-endpoints'] }),
    drop({ packets: 1, mechanisms: ['conntrack-table-full', 'conntrack-invalid'], location: 'nf_hook_slow' }),
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_drops_total'), [
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="nft_do_chain",namespace="shop",service="web",direction="to_service",mechanism="no-endpoints"} 4',
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="nf_hook_slow",namespace="",service="",direction="node",mechanism="conntrack-table-full+conntrack-invalid"} 1',
  ]);
});

test('past the label cap new sets count under location="other", service="other"', async () => {
  const registry = new Registry();
  const capped: string[] = [];
  const drops = dropsMetric(registry, { labelCap: 1, onCapReached: (m) => capped.push(m) });
  drops.add([drop({ packets: 1 }), drop({ packets: 2, location: 'nf_hook_slow' }), drop({ packets: 4, location: 'ip_rcv' })]);
  assert.deepEqual(await lines(registry, 'flapwatch_drops_total'), [
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="nft_do_chain",namespace="",service="",direction="node",mechanism="netfilter-drop"} 1',
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="other",namespace="",service="other",direction="node",mechanism="netfilter-drop"} 6',
  ]);
  assert.deepEqual(capped, ['flapwatch_drops_total']);
});

test('tcp_retransmits_total adds packets', async () => {
  const registry = new Registry();
  retransmitsMetric(registry, { labelCap: 10 }).add([
    retransmit({ packets: 2 }),
    retransmit({ packets: 3, state: 'ESTABLISHED' }),
    retransmit({ packets: 6, service: WEB, direction: 'to_service' }),
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_tcp_retransmits_total'), [
    'flapwatch_tcp_retransmits_total{namespace="",service="",direction="node"} 5',
    'flapwatch_tcp_retransmits_total{namespace="shop",service="web",direction="to_service"} 6',
  ]);
});

test('conntrack metrics: kernel totals as counters, table gauges, unreplied and unanswered flows by Service', async () => {
  const registry = new Registry();
  const index = new ServiceIndex();
  index.publish('rules', [WEB]);
  let reading: ConntrackReading | undefined;
  const group = (daddr: string, dport: number, n: number) => ({ daddr, dport, proto: 6, state: 'SYN_SENT', flows: n, unreplied: n, assured: 0 });
  const metrics = conntrackMetrics(registry, { labelCap: 100, current: () => reading });
  const unreplied = [group('10.96.7.7', 80, 3), group('10.77.4.2', 8080, 2), group('10.1.1.1', 443, 7), group('*', 0, 1)];
  reading = { counters: { insert_failed: 4, drop: 2 }, deltas: {}, entries: 120, max: 262144, unreplied, diedUnreplied: [group('10.96.7.7', 80, 5)] };
  metrics.add({
    start: 0, end: 1000, drops: [], retransmits: [], connections: [], rules: [], conntrack: reading,
    unreplied: unreplied.map((g) => attributeGroup(index, g)), diedUnreplied: reading.diedUnreplied.map((g) => attributeGroup(index, g)),
  });
  assert.deepEqual(await lines(registry, 'flapwatch_conntrack_stat_total'), [
    'flapwatch_conntrack_stat_total{stat="insert_failed"} 4',
    'flapwatch_conntrack_stat_total{stat="drop"} 2',
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_conntrack_entries'), ['flapwatch_conntrack_entries 120']);
  assert.deepEqual(await lines(registry, 'flapwatch_conntrack_max'), ['flapwatch_conntrack_max 262144']);
  assert.deepEqual(await lines(registry, 'flapwatch_conntrack_unreplied_flows'), [
    'flapwatch_conntrack_unreplied_flows{namespace="shop",service="web"} 5',
    'flapwatch_conntrack_unreplied_flows{namespace="",service=""} 8',
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_conntrack_unanswered_flows_total'), ['flapwatch_conntrack_unanswered_flows_total{namespace="shop",service="web"} 5']);
});

test('kube-proxy rule packets by Service and rule; node-wide rules have no Service; problems counted; missing pieces of the last read', async () => {
  const registry = new Registry();
  const problems = new Map([['unknown_match', 2]]);
  let missing = new Map([['map', 1], ['table', 2]]);
  const metrics = kubeProxyMetrics(registry, { labelCap: 100, problems: () => problems, missing: () => missing });
  metrics.add([
    { kind: 'reject_no_endpoints', service: { namespace: 'shop', name: 'web', portName: 'http' }, table: 'filter', chain: 'KUBE-SERVICES', packets: 3 },
    { kind: 'drop_invalid', table: 'filter', chain: 'KUBE-FORWARD', packets: 2 },
  ]);
  metrics.add([{ kind: 'reject_no_endpoints', service: { namespace: 'shop', name: 'web', portName: 'http' }, table: 'filter', chain: 'KUBE-SERVICES', packets: 1 }]);
  assert.deepEqual(await lines(registry, 'flapwatch_kubeproxy_rule_packets_total'), [
    'flapwatch_kubeproxy_rule_packets_total{namespace="shop",service="web",rule="reject_no_endpoints"} 4',
    'flapwatch_kubeproxy_rule_packets_total{namespace="",service="",rule="drop_invalid"} 2',
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_kubeproxy_rule_problems_total'), ['flapwatch_kubeproxy_rule_problems_total{problem="unknown_match"} 2']);
  assert.deepEqual(await lines(registry, 'flapwatch_kubeproxy_missing_pieces'), ['flapwatch_kubeproxy_missing_pieces{kind="map"} 1', 'flapwatch_kubeproxy_missing_pieces{kind="table"} 2']);
  missing = new Map();
  assert.deepEqual(await lines(registry, 'flapwatch_kubeproxy_missing_pieces'), [], 'a gauge of the last read: what is back is not missing');
});

test('source metrics read the sources at scrape time', async () => {
  const registry = new Registry();
  let stats: SourceStats[] = [{ source: 'drops', up: false, reason: 'starting', errors: 0, eventsLost: 0, rateLimited: 0 }];
  sourceMetrics(registry, { stats: () => stats });
  assert.deepEqual(await lines(registry, 'flapwatch_source_up'), ['flapwatch_source_up{source="drops"} 0']);
  stats = [
    { source: 'drops', up: true, reason: '', errors: 1, eventsLost: 12, rateLimited: 0 },
    { source: 'drop_samples', up: true, reason: '', errors: 1, eventsLost: 3, rateLimited: 40 },
  ];
  assert.deepEqual(await lines(registry, 'flapwatch_source_up'), ['flapwatch_source_up{source="drops"} 1', 'flapwatch_source_up{source="drop_samples"} 1']);
  assert.deepEqual(await lines(registry, 'flapwatch_events_lost_total'), [
    'flapwatch_events_lost_total{source="drops"} 12',
    'flapwatch_events_lost_total{source="drop_samples"} 3',
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_source_errors_total'), [
    'flapwatch_source_errors_total{source="drops"} 1',
    'flapwatch_source_errors_total{source="drop_samples"} 1',
  ]);
  assert.ok((await lines(registry, 'flapwatch_events_rate_limited_total')).includes('flapwatch_events_rate_limited_total{source="drop_samples"} 40'));
});

test('the registry carries the standard process metrics, unprefixed', async () => {
  const text = await createRegistry().metrics();
  assert.match(text, /^process_resident_memory_bytes /m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);
});

test('service graph edges: drops by mechanism and retransmits of this node\'s workloads, by Service port; no client, no edge', async () => {
  const registry = new TextRegistry();
  const edges = edgeMetrics(registry, { labelCap: 100 });
  const web = { namespace: 'shop', kind: 'Deployment', name: 'web' };
  edges.add({
    drops: [
      drop({ packets: 3, service: WEB, direction: 'to_service', client: web, mechanisms: ['netfilter-drop'] }),
      drop({ packets: 5, service: WEB, direction: 'to_service', mechanisms: ['netfilter-drop'] }), // a client of another node
      drop({ packets: 7, service: WEB, direction: 'to_service', client: web, loss: false }),
    ],
    retransmits: [retransmit({ packets: 2, service: WEB, direction: 'to_service', client: { namespace: '', kind: 'Node', name: 'node' } })],
    connections: [],
  });
  assert.deepEqual(await lines(registry, 'flapwatch_edge_drops_total'), [
    'flapwatch_edge_drops_total{client_namespace="shop",client_kind="Deployment",client_workload="web",namespace="shop",service="web",port="http",mechanism="netfilter-drop"} 3',
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_edge_retransmits_total'), [
    'flapwatch_edge_retransmits_total{client_namespace="",client_kind="Node",client_workload="node",namespace="shop",service="web",port="http"} 2',
  ]);
});

/** latencyUs with `n` handshakes in slot `slot` ([2^slot, 2^(slot+1)) µs). */
const slots = (...pairs: [slot: number, n: number][]) => {
  const a = new Array<number>(27).fill(0);
  for (const [slot, n] of pairs) a[slot] = n;
  return a;
};

test('the kernel\'s log2 slots land under the first bound that holds all of them; beyond the last, +Inf', () => {
  // slot 7 is [128, 256) µs: under 256 µs; slot 8 [256, 512): under 1.024 ms; slot 19 [0.52, 1.05) s; slot 26: +Inf
  assert.deepEqual(connectBuckets(slots([0, 1], [7, 2], [8, 3], [19, 4], [23, 5], [26, 6])), [3, 3, 0, 0, 0, 0, 4, 0, 5, 6]);
  assert.deepEqual(CONNECT_BOUNDS_S.slice(0, 2), [0.000256, 0.001024]);
});

test('service graph edges: connects by result and their handshake times, per workload and Service port', async () => {
  const registry = new TextRegistry();
  const edges = edgeMetrics(registry, { labelCap: 100 });
  const web = { namespace: 'shop', kind: 'Deployment', name: 'web' };
  edges.add({
    drops: [],
    retransmits: [],
    connections: [
      connection({ attempted: 5, established: 3, failed: 2, service: WEB, direction: 'to_service', client: web, latencyUs: slots([7, 2], [19, 1]), latencySumUs: 1_000_400 }),
      connection({ attempted: 4, established: 0, failed: 4, service: WEB, direction: 'to_service', client: web }),
      connection({ attempted: 9, service: WEB, direction: 'to_service' }), // a client of another node
    ],
  });
  const edge = 'client_namespace="shop",client_kind="Deployment",client_workload="web",namespace="shop",service="web",port="http"';
  assert.deepEqual(await lines(registry, 'flapwatch_edge_connections_total'), [
    `flapwatch_edge_connections_total{${edge},result="attempted"} 9`,
    `flapwatch_edge_connections_total{${edge},result="established"} 3`,
    `flapwatch_edge_connections_total{${edge},result="failed"} 6`,
  ]);
  const text = await registry.metrics();
  const histogram = text.split('\n').filter((l) => l.startsWith('flapwatch_edge_connect_seconds'));
  assert.deepEqual(histogram, [
    ...CONNECT_BOUNDS_S.map((le, i) => `flapwatch_edge_connect_seconds_bucket{${edge},le="${le}"} ${i < 6 ? 2 : 3}`),
    `flapwatch_edge_connect_seconds_bucket{${edge},le="+Inf"} 3`,
    `flapwatch_edge_connect_seconds_sum{${edge}} 1.0004`,
    `flapwatch_edge_connect_seconds_count{${edge}} 3`,
  ]);
  assert.match(text, /# TYPE flapwatch_edge_connect_seconds histogram/);
});

test('one cap for every edge metric: an edge is in all of them or folded in all, its client kind kept', async () => {
  const registry = new TextRegistry();
  const capped: string[] = [];
  const edges = edgeMetrics(registry, { labelCap: 1, onCapReached: (m) => capped.push(m) });
  const a = { namespace: 'shop', kind: 'Deployment', name: 'a' };
  const b = { namespace: 'ops', kind: 'StatefulSet', name: 'b' };
  edges.add({
    drops: [drop({ packets: 2, service: WEB, direction: 'to_service', client: a })],
    retransmits: [retransmit({ packets: 1, service: WEB, direction: 'to_service', client: b })],
    connections: [
      connection({ service: WEB, direction: 'to_service', client: a, latencyUs: slots([3, 1]), latencySumUs: 9 }),
      connection({ service: WEB, direction: 'to_service', client: b, latencyUs: slots([3, 1]), latencySumUs: 9 }),
    ],
  });
  const edgeA = 'client_namespace="shop",client_kind="Deployment",client_workload="a",namespace="shop",service="web",port="http"';
  const other = 'client_namespace="other",client_kind="StatefulSet",client_workload="other",namespace="other",service="other",port="other"';
  assert.deepEqual(await lines(registry, 'flapwatch_edge_drops_total'), [`flapwatch_edge_drops_total{${edgeA},mechanism="netfilter-drop"} 2`]);
  assert.deepEqual(await lines(registry, 'flapwatch_edge_retransmits_total'), [`flapwatch_edge_retransmits_total{${other}} 1`]);
  assert.deepEqual(await lines(registry, 'flapwatch_edge_connections_total'), [
    `flapwatch_edge_connections_total{${edgeA},result="attempted"} 1`,
    `flapwatch_edge_connections_total{${edgeA},result="established"} 1`,
    `flapwatch_edge_connections_total{${other},result="attempted"} 1`,
    `flapwatch_edge_connections_total{${other},result="established"} 1`,
  ]);
  const counts = (await registry.metrics()).split('\n').filter((l) => l.startsWith('flapwatch_edge_connect_seconds_count'));
  assert.deepEqual(counts, [`flapwatch_edge_connect_seconds_count{${edgeA}} 1`, `flapwatch_edge_connect_seconds_count{${other}} 1`]);
  assert.deepEqual(capped, ['flapwatch_edge_* (service graph edges)']);
});
