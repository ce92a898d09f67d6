import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { SourceStats } from '../../src/observe/types';
import { dropsMetric } from '../../src/report/metrics/drops';
import { conntrackMetrics } from '../../src/report/metrics/conntrack';
import { kubeProxyMetrics } from '../../src/report/metrics/kubeproxy';
import { createRegistry } from '../../src/report/metrics/registry';
import { ServiceIndex } from '../../src/services/index';
import type { ConntrackReading } from '../../src/kernel/conntrack-source';
import { retransmitsMetric } from '../../src/report/metrics/retransmits';
import { sourceMetrics } from '../../src/report/metrics/sources';
import { attributedDrop as drop, attributedRetransmit as retransmit, WEB } from '../fixtures/observations';

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
  const metrics = conntrackMetrics(registry, {
    labelCap: 100, index, current: () => reading,
    lastUnreplied: () => [group('10.96.7.7', 80, 3), group('10.77.4.2', 8080, 2), group('10.1.1.1', 443, 7), group('*', 0, 1)],
  });
  reading = { counters: { insert_failed: 4, drop: 2 }, deltas: {}, entries: 120, max: 262144, diedUnreplied: [group('10.96.7.7', 80, 5)] };
  metrics.add(reading);
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

test('kube-proxy rule packets by Service and rule; node-wide rules have no Service; problems counted', async () => {
  const registry = new Registry();
  const problems = new Map([['unknown_match', 2]]);
  const metrics = kubeProxyMetrics(registry, { labelCap: 100, problems: () => problems });
  metrics.add([
    { kind: 'reject_no_endpoints', service: 'shop/web:http', table: 'filter', chain: 'KUBE-SERVICES', packets: 3 },
    { kind: 'drop_invalid', table: 'filter', chain: 'KUBE-FORWARD', packets: 2 },
  ]);
  metrics.add([{ kind: 'reject_no_endpoints', service: 'shop/web:http', table: 'filter', chain: 'KUBE-SERVICES', packets: 1 }]);
  assert.deepEqual(await lines(registry, 'flapwatch_kubeproxy_rule_packets_total'), [
    'flapwatch_kubeproxy_rule_packets_total{namespace="shop",service="web",rule="reject_no_endpoints"} 4',
    'flapwatch_kubeproxy_rule_packets_total{namespace="",service="",rule="drop_invalid"} 2',
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_kubeproxy_rule_problems_total'), ['flapwatch_kubeproxy_rule_problems_total{problem="unknown_match"} 2']);
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
