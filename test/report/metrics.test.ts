import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { SourceStats } from '../../src/observe/types';
import { dropsMetric } from '../../src/report/metrics/drops';
import { createRegistry } from '../../src/report/metrics/registry';
import { retransmitsMetric } from '../../src/report/metrics/retransmits';
import { sourceMetrics } from '../../src/report/metrics/sources';
import { drop, retransmit } from '../fixtures/observations';

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
    drop({ packets: 2, location: 'nft_do_chain+0x10' }),
    drop({ packets: 5, reasonName: 'NO_SOCKET', reason: 3, location: 'udp_queue_rcv_one_skb+0x5' }),
    drop({ packets: 7, reasonName: 'QUEUE_PURGE', reason: 104, loss: false }),
  ]);
  assert.deepEqual(await lines(registry, 'flapwatch_drops_total'), [
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="nft_do_chain",namespace="",service="",direction="node"} 5',
    'flapwatch_drops_total{reason="NO_SOCKET",location="udp_queue_rcv_one_skb",namespace="",service="",direction="node"} 5',
  ]);
});

test('past the label cap new sets count under location="other", service="other"', async () => {
  const registry = new Registry();
  const capped: string[] = [];
  const drops = dropsMetric(registry, { labelCap: 1, onCapReached: (m) => capped.push(m) });
  drops.add([drop({ packets: 1 }), drop({ packets: 2, location: 'nf_hook_slow+0x1' }), drop({ packets: 4, location: 'ip_rcv+0x1' })]);
  assert.deepEqual(await lines(registry, 'flapwatch_drops_total'), [
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="nft_do_chain",namespace="",service="",direction="node"} 1',
    'flapwatch_drops_total{reason="NETFILTER_DROP",location="other",namespace="",service="other",direction="node"} 6',
  ]);
  assert.deepEqual(capped, ['flapwatch_drops_total']);
});

test('tcp_retransmits_total adds packets', async () => {
  const registry = new Registry();
  retransmitsMetric(registry, { labelCap: 10 }).add([retransmit({ packets: 2 }), retransmit({ packets: 3, state: 'ESTABLISHED' })]);
  assert.deepEqual(await lines(registry, 'flapwatch_tcp_retransmits_total'), [
    'flapwatch_tcp_retransmits_total{namespace="",service="",direction="node"} 5',
  ]);
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
