// A flood of distinct tuples: memory stays bounded by the in-kernel table, and what it could not keep is counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { DropSource } from '../../src/kernel/drops';
import { DEFAULT_BENIGN_REASONS } from '../../src/kernel/reasons';
import { kernelSkip } from '../helpers/env';
import { netnsInode, nsRun, run } from '../lab/netns';
import { udpflood } from '../lab/udpflood';

const MAX_FLOWS = 8192;
const PORTS = 65_535;
const ADDRS = 2; // 131,070 distinct tuples
const PACKETS = 1_200_000;

const ns = `fwflood${process.pid}`;

test('a flood of 1.2M packets over 131k tuples keeps memory bounded and counts what it lost', { skip: kernelSkip }, async (t) => {
  await run('ip', ['netns', 'add', ns]);
  t.after(() => run('ip', ['netns', 'del', ns]).catch(() => undefined));
  await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
  // a route so that sendto reaches the OUTPUT hook, where the rule drops
  await nsRun(ns, 'ip', ['route', 'add', '10.98.0.0/16', 'dev', 'lo']);
  await nsRun(ns, 'iptables', ['-A', 'OUTPUT', '-d', '10.98.0.0/16', '-p', 'udp', '-j', 'DROP']);

  const source = new DropSource({
    btfPath: '',
    maxFlows: MAX_FLOWS,
    maxRetransmitFlows: 1024,
    samplesPerSecond: 1000,
    ringBytes: 64 * 1024,
    benignReasons: DEFAULT_BENIGN_REASONS,
    logger: pino({ level: 'silent' }),
  });
  let drained = 0;
  let flows = 0;
  let largestDrain = 0;
  const inode = netnsInode(ns);
  source.onDrops((drops) => {
    largestDrain = Math.max(largestDrain, drops.length);
    for (const d of drops) {
      if (d.netns !== inode) continue;
      drained += d.packets;
      flows++;
    }
  });
  await source.start();
  t.after(() => source.stop());
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;

  // the node's interval drives drains in the daemon; here a timer stands in for it during the flood
  const interval = setInterval(() => void source.drain(), 250);
  let flood;
  try {
    flood = await udpflood(ns, { dst: '10.98.0.1', firstPort: 1, ports: PORTS, addrs: ADDRS, count: PACKETS });
  } finally {
    clearInterval(interval);
  }
  await source.drain();
  await source.drain();
  const heapGrowth = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  const lost = source.losses();
  const stats = source.stats().find((s) => s.source === 'drops')!;

  assert.equal(flood.sent + flood.errors, PACKETS);
  // every packet of the flood was dropped; those of flows evicted before a drain never reached user space
  assert.ok(drained <= PACKETS, `drained ${drained} of ${PACKETS}`);
  // the flood refills the table while a drain walks it; the addon stops a walk at twice the table's size
  assert.ok(largestDrain <= 2 * MAX_FLOWS, `one drain returned ${largestDrain} records`);
  assert.ok(flows >= MAX_FLOWS, `flows seen: ${flows}`);
  assert.ok(lost.dropFlowsEvicted > 0, 'evicted flows are counted');
  assert.ok(stats.eventsLost >= lost.dropFlowsEvicted, 'and exported as events lost');
  assert.equal(stats.up, true);
  // the ring buffer is rate-limited: the flood cannot reach user space through it
  assert.ok(lost.samplesRateLimited > PACKETS / 2, `rate-limited samples: ${lost.samplesRateLimited}`);
  assert.ok(heapGrowth < 64, `heap grew ${heapGrowth.toFixed(1)} MB`);
  t.diagnostic(`drained ${drained} packets in ${flows} flow records, ${lost.dropFlowsEvicted} flows evicted, heap +${heapGrowth.toFixed(1)} MB, ${Math.round(flood.pps)} pps`);
});
