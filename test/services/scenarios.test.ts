// Attribution in the lab, end to end on the real kernel: real kube-proxy rules (each of the three ways a node
// may hold them), real packets, the real tracer, conntrack and rule readers, as the daemon wires them. Each
// scenario asserts the exact Service and mechanism. Run alone: the table-full scenario lowers the global
// nf_conntrack_max (the lab restores it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { ConntrackSource } from '../../src/kernel/conntrack-source';
import { DropSource } from '../../src/kernel/drops';
import { DEFAULT_BENIGN_REASONS } from '../../src/kernel/reasons';
import { RulesSource } from '../../src/kubeproxy/source';
import type { AttributedDrop } from '../../src/services/attribute';
import { ServiceIndex } from '../../src/services/index';
import { NodeIntervals, type NodeInterval } from '../../src/services/interval';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab, type KubeProxyMode } from '../lab/lab';
import { nsRun, sysctlSet } from '../lab/netns';

const logger = pino({ level: 'silent' });

interface Pipeline {
  intervals: NodeIntervals;
  seen: NodeInterval[];
  stop(): Promise<void>;
}

/** The daemon's sources and NodeIntervals, pointed at the lab's node namespace. */
async function pipeline(lab: Lab): Promise<Pipeline> {
  const index = new ServiceIndex();
  const drops = new DropSource({
    btfPath: '', maxFlows: 16384, maxRetransmitFlows: 4096, samplesPerSecond: 0, ringBytes: 4096,
    benignReasons: DEFAULT_BENIGN_REASONS, logger,
  });
  const conntrack = new ConntrackSource({ netns: lab.node, unrepliedIntervalMs: 0, logger });
  const rules = new RulesSource({ netns: lab.node, index, logger });
  await Promise.all([drops.start(), conntrack.start(), rules.start()]);
  for (const s of [drops, conntrack, rules].flatMap((x) => x.stats())) assert.equal(s.up, true, `${s.source} up: ${s.reason}`);
  const intervals = new NodeIntervals({ index, drops, conntrack, rules, intervalMs: 0, netns: lab.node, logger });
  const seen: NodeInterval[] = [];
  intervals.onInterval((list) => seen.push(...list));
  await intervals.collect(); // the first reading counts nothing: what came before is not ours
  seen.length = 0;
  return {
    intervals,
    seen,
    async stop() {
      await intervals.stop();
      await Promise.all([drops.stop(), conntrack.stop(), rules.stop()]);
    },
  };
}

const lossOf = (p: Pipeline, name: string) =>
  p.seen.flatMap((iv) => iv.drops).filter((d) => d.loss && d.service?.name === name);
const packets = (drops: AttributedDrop[]) => drops.reduce((n, d) => n + d.packets, 0);

/** Collects intervals until `done` holds (packets may still be in a softirq when the sender returns). */
async function until(p: Pipeline, done: () => boolean, what: string): Promise<void> {
  await eventually(async () => {
    await p.intervals.collect();
    return done();
  }, what, 8000);
}

/** One TCP connection from the client, held open; `send()` writes once more, later, on the same connection. */
function heldConnection(lab: Lab, ip: string, port: number): Promise<{ send(): void; close(): void }> {
  const script = `const s = require('net').connect(${port}, '${ip}', () => process.stdout.write('up\\n'));
s.on('error', () => {}); process.stdin.on('data', () => s.write('GET /health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));`;
  const child = spawn('ip', ['netns', 'exec', lab.client, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', () => resolve({ send: () => child.stdin.write('x\n'), close: () => child.kill('SIGKILL') }));
  });
}

const MODES: { mode: KubeProxyMode; ruleDrops: boolean }[] = [
  { mode: 'iptables-nft', ruleDrops: true },
  { mode: 'iptables-legacy', ruleDrops: true },
  { mode: 'nftables', ruleDrops: false }, // nftables mode has no rule counters and no ctstate INVALID drop
];

for (const { mode, ruleDrops } of MODES) {
  describe(`attribution in the lab, kube-proxy ${mode}`, { skip: kernelSkip, timeout: 180_000 }, () => {
    let lab: Lab;
    let p: Pipeline;
    before(async () => {
      lab = await Lab.create({
        kubeProxy: mode,
        pods: 3,
        services: [
          { name: 'web', namespace: 'shop', portName: 'http', endpoints: [{ podIndex: 0, port: 8080 }, { podIndex: 1, port: 8080 }] },
          { name: 'gone', namespace: 'shop', endpoints: [] },
          { name: 'clean', namespace: 'shop', endpoints: [{ podIndex: 2, port: 8080 }] },
        ],
      });
      p = await pipeline(lab);
    });
    after(async () => {
      await p?.stop();
      await lab?.destroy();
    });

    test('a Service with no endpoints is called: no-endpoints, to_service, its REJECT rule counted', async () => {
      const gone = lab.service('shop/gone');
      for (let i = 0; i < 3; i++) assert.equal((await lab.tcpConnect(lab.client, gone.clusterIP, gone.port, 1000)).error, 'ECONNREFUSED');
      await until(p, () => packets(lossOf(p, 'gone')) >= 3, '3 rejected SYNs');
      const drops = lossOf(p, 'gone');
      assert.deepEqual([...new Set(drops.map((d) => `${d.direction} ${d.mechanisms.join('+')} ${d.reasonName}`))], ['to_service no-endpoints NETFILTER_DROP']);
      assert.deepEqual(drops[0]!.origDst, { addr: gone.clusterIP, port: gone.port });
      const rises = p.seen.flatMap((iv) => iv.rules).filter((r) => r.kind === 'reject_no_endpoints');
      if (ruleDrops) assert.ok(rises.some((r) => r.service === 'shop/gone' && r.packets >= 1), JSON.stringify(rises));
      else assert.deepEqual(rises, [], 'nftables mode has no counters');
    });

    test('random drops on one endpoint\'s path: netfilter-drop for web, with the ClusterIP it was sent to', async () => {
      const web = lab.service('shop/web');
      const undo = await lab.dropOnPath(0, 0.5);
      try {
        // 1.5 s each: a lost SYN is sent again after the initial RTO of 1 s
        for (let i = 0; i < 12; i++) await lab.httpGet(lab.client, web.clusterIP, web.port, '/health', 1500);
        const retransmitted = () => p.seen.flatMap((iv) => iv.retransmits).some((r) => r.service?.name === 'web');
        await until(p, () => packets(lossOf(p, 'web')) >= 1 && retransmitted(), 'a drop on the endpoint path and a retransmission');
      } finally {
        await undo();
      }
      // the rule's drops; the fault's aftermath (segments for sockets the timeouts closed: NO_SOCKET) are kernel drops
      const drops = lossOf(p, 'web').filter((d) => d.reasonName === 'NETFILTER_DROP');
      assert.deepEqual([...new Set(drops.map((d) => `${d.direction} ${d.mechanisms.join('+')}`))], ['to_service netfilter-drop']);
      assert.ok(drops.every((d) => d.tuple.daddr === lab.podIp(0) && d.origDst?.addr === web.clusterIP && d.ct.dnat), JSON.stringify(drops[0]));
      const others = lossOf(p, 'web').filter((d) => d.reasonName !== 'NETFILTER_DROP');
      assert.ok(others.every((d) => d.mechanisms.join() === 'kernel-drop' && d.detail === d.reasonName), JSON.stringify(others.map((d) => d.reasonName)));
      const retransmits = p.seen.flatMap((iv) => iv.retransmits).filter((r) => r.service?.name === 'web');
      assert.ok(retransmits.length > 0 && retransmits.every((r) => r.direction === 'to_service'), 'the lost SYNs were retransmitted');
    });

    test('conntrack table full: conntrack-table-full for the Service whose ClusterIP was called', async () => {
      const web = lab.service('shop/web');
      // no flush first: the earlier tests' connections keep their entries (a flush would make their last packets
      // INVALID), and hold the table's one slot
      const restore = await lab.conntrackFull(1);
      try {
        // with the table empty the first flow takes the one slot; the rest are refused at the hook
        for (let i = 0; i < 4; i++) await lab.tcpConnect(lab.client, web.clusterIP, web.port, 400);
        await until(p, () => lossOf(p, 'web').some((d) => d.mechanisms.includes('conntrack-table-full')), 'a table-full drop');
      } finally {
        await restore();
      }
      // the refused SYNs: never DNATed, so they still show the ClusterIP
      const refused = lossOf(p, 'web').filter((d) => d.tuple.daddr === web.clusterIP);
      assert.deepEqual([...new Set(refused.map((d) => `${d.direction} ${d.mechanisms.join('+')} ${d.location.split('+')[0]}`))], ['to_service conntrack-table-full nf_hook_slow']);
      assert.ok(refused.every((d) => !d.ct.present));
    });

    test('a TCP packet of no connection crosses FORWARD: conntrack-invalid where kube-proxy drops it', async () => {
      // An interval whose stat drop rose too (the table-full test's last refusals, now and then) may not tell the
      // two apart and say both; the retransmitted segment is dropped again in later, quiet intervals.
      const quiet = (iv: NodeInterval) => (iv.conntrack?.deltas.drop ?? 0) === 0;
      const invalidDrops = (inQuiet: boolean) => p.seen.filter((iv) => quiet(iv) === inQuiet).flatMap((iv) => iv.drops)
        .filter((d) => d.loss && d.service?.name === 'web' && d.tuple.daddr === lab.podIp(1));
      await sysctlSet(lab.node, 'net.netfilter.nf_conntrack_tcp_loose', 0); // else conntrack adopts a mid-stream packet
      const conn = await heldConnection(lab, lab.podIp(1), lab.podPort);
      try {
        await nsRun(lab.node, 'conntrack', ['-F']); // the node forgets the connection
        await p.intervals.collect();
        conn.send();
        if (ruleDrops) await until(p, () => packets(invalidDrops(true)) >= 1, 'the INVALID packet dropped in an interval without table-full drops');
        else await until(p, () => p.seen.some((iv) => (iv.conntrack?.deltas.invalid ?? 0) > 0), 'conntrack to call it INVALID');
      } finally {
        conn.close();
        await sysctlSet(lab.node, 'net.netfilter.nf_conntrack_tcp_loose', 1);
      }
      const drops = invalidDrops(true);
      const witnessedBoth = invalidDrops(false);
      if (!ruleDrops) {
        assert.deepEqual([...drops, ...witnessedBoth], [], 'nftables mode installs no INVALID drop: the packet goes through');
        return;
      }
      assert.deepEqual([...new Set(drops.map((d) => `${d.direction} ${d.mechanisms.join('+')}`))], ['to_service conntrack-invalid']);
      // with nft-based rules the drop's location still tells (nft_do_chain: a rule); legacy's cannot
      assert.ok(witnessedBoth.every((d) => ['conntrack-invalid', 'conntrack-table-full+conntrack-invalid'].includes(d.mechanisms.join('+'))), JSON.stringify(witnessedBoth[0]));
      assert.ok([...drops, ...witnessedBoth].every((d) => !d.ct.present));
      assert.ok(p.seen.flatMap((iv) => iv.rules).some((r) => r.kind === 'drop_invalid'), 'KUBE-FORWARD\'s INVALID DROP counted');
    });

    test('the clean Service saw nothing throughout', async () => {
      const clean = lab.service('shop/clean');
      assert.equal((await lab.httpGet(lab.client, clean.clusterIP, clean.port)).status, 200);
      await p.intervals.collect();
      assert.deepEqual(lossOf(p, 'clean'), []);
      assert.deepEqual(p.seen.flatMap((iv) => iv.retransmits).filter((r) => r.service?.name === 'clean'), []);
      assert.deepEqual(p.seen.flatMap((iv) => iv.rules).filter((r) => r.service?.startsWith('shop/clean')), []);
    });
  });
}
