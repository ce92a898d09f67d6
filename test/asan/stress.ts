// Run by scripts/test-asan.sh (npm run test:asan) with the addon built under AddressSanitizer/LeakSanitizer:
// every native entry (the drop and DNS tracers, the connection tracker, the task iterator, conntrack, legacy
// iptables), its error paths and its teardown while the kernel is still handing events over (drops, connects, DNS),
// a few hundred rounds. ASan stops the process at the first memory error; LSan reports leaks at exit. Not a node:test
// file: the sanitizers, not assertions, are the judges here (the kernel tests check the results).
// usage: node --expose-gc dist/test/asan/stress.js ADDON.node ROUNDS
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cgroup2Root } from '../../src/kernel/dns';
import type { Addon, DnsTracerOptions, DropSample } from '../../src/native';
import { conntrackLab, type ConntrackLab } from '../kernel/conntrack-lab';
import { nsRun, run } from '../lab/netns';
import { buildUdpflood } from '../lab/udpflood';
import { loadIptables } from '../kubeproxy/netns';
import { renderIptables } from '../kubeproxy/render';
import { makeServices } from '../kubeproxy/services';

const [addonPath, roundsArg] = process.argv.slice(2);
if (!addonPath) throw new Error('usage: stress.js ADDON.node ROUNDS');
const ROUNDS = Number(roundsArg ?? 200);
const native = require(addonPath) as Addon;
// ASan is for this process: the tools the lab runs (ip, nft, conntrack, iptables) are not ours to judge
delete process.env.LD_PRELOAD;

const TRACER = { btfPath: '', maxFlows: 1024, maxRetransmitFlows: 256, samplesPerSecond: 100_000, ringBytes: 1 << 16, skipReasons: ['QUEUE_PURGE'] };
const CONNECTIONS = { btfPath: '', maxKeys: 64, maxPending: 64 };

/** A burst of UDP from the lab into its drop rule (kfree_skb) and to unanswered destinations (conntrack). */
function burst(flood: string, ns: string, dst: string, count: number): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, flood, '-d', dst, '-p', '1000', '-n', '512', '-c', String(count)], { stdio: 'ignore' });
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

const DNS: DnsTracerOptions = { btfPath: '', cgroupPath: cgroup2Root('/sys/fs/cgroup'), hook: 'auto', maxQueries: 512, maxFlows: 128 };

/** Zero-filled datagrams to port 53 of 300 addresses: queries (QR clear) the sweep keeps, rows the drain reads. */
async function dnsRound(flood: string, ns: string, round: number): Promise<number> {
  const tracer = new native.DnsTracer();
  const options = { ...DNS, hook: round % 3 === 2 ? 'tracepoints' as const : 'auto' as const };
  const started = tracer.start(options);
  await rejectsWith(tracer.start(options), 'EALREADY');
  if (round % 10 === 7) {
    tracer.stop(); // during the start
    await started;
    return 0;
  }
  await started;
  const child = spawn('ip', ['netns', 'exec', ns, flood, '-d', '10.98.0.1', '-p', '53', '-a', '300', '-s', '40', '-c', '2000'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 5));
  const drain = tracer.drain();
  await rejectsWith(tracer.drain(), 'EBUSY');
  if (round % 2) tracer.stop(); // the maps stay until the drain in flight lets go of them
  const { rows } = await drain;
  await exited(child);
  tracer.stop();
  await rejectsWith(tracer.drain(), 'EINVAL');
  return rows.length;
}

const rejectsWith = async (p: Promise<unknown>, code: string) => assert.rejects(p, (err: { code?: string }) => err.code === code);

async function tracerRound(flood: string, ns: string, round: number): Promise<number> {
  const tracer = new native.DropTracer();
  let samples = 0;
  const started = tracer.start({ ...TRACER, onSamples: (s: DropSample[]) => (samples += s.length) });
  await rejectsWith(tracer.start({ ...TRACER, onSamples: () => undefined }), 'EALREADY');
  if (round % 10 === 5) {
    tracer.stop(); // during the start: what it loads is freed when it ends
    await started;
    return 0;
  }
  await started;
  const child = burst(flood, ns, '10.97.0.1', 20_000);
  await new Promise((r) => setTimeout(r, 20));
  const drain = tracer.drain();
  await rejectsWith(tracer.drain(), 'EBUSY');
  if (round % 2) tracer.stop(); // the maps stay until the drain in flight lets go of them
  await drain;
  tracer.stop(); // while samples are still arriving
  tracer.stop();
  await exited(child);
  await rejectsWith(tracer.drain(), 'EINVAL');
  return samples;
}

/**
 * Short TCP connects on the lab netns's loopback to 200 closed ports (more keys than the map holds), refused;
 * resolves once they have begun.
 */
async function connects(ns: string, count: number): Promise<ChildProcess> {
  const script = `let n = ${count}; const next = () => { if (n-- <= 0) return; const s = require('net').connect(1000 + (n % 200), '127.0.0.1'); s.on('error', next); };
for (let i = 0; i < 8; i++) next(); process.stdout.write('going');`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => child.stdout!.once('data', resolve).once('close', resolve));
  child.stdout!.resume();
  return child;
}

async function connectionsRound(ns: string, round: number): Promise<number> {
  const tracker = new native.ConnTracker();
  const started = tracker.start(CONNECTIONS);
  await rejectsWith(tracker.start(CONNECTIONS), 'EALREADY');
  if (round % 10 === 5) {
    tracker.stop(); // during the start: what it loads is freed when it ends
    await started;
    return 0;
  }
  await started;
  const child = await connects(ns, 400);
  const drain = tracker.drain();
  await rejectsWith(tracker.drain(), 'EBUSY');
  if (round % 2) tracker.stop(); // the maps stay until the drain in flight lets go of them
  const { connections } = await drain;
  tracker.stop(); // while connects still change states
  await exited(child);
  await rejectsWith(tracker.drain(), 'EINVAL');
  return connections.length;
}

async function iteratorRound(round: number): Promise<void> {
  const iterator = new native.NetnsIterator();
  await iterator.start({ btfPath: '' });
  const reads = [iterator.read(), iterator.read()];
  if (round % 2) iterator.stop(); // the reads in flight keep the iterator until they end
  await Promise.all(reads);
  iterator.stop();
  await rejectsWith(iterator.read(), 'EINVAL');
}

async function conntrackRound(flood: string, lab: ConntrackLab): Promise<void> {
  const netnsPath = `/run/netns/${lab.ns}`;
  await native.conntrackStats(netnsPath);
  await native.conntrackAggregate({ netnsPath, family: 0, maxGroups: 10 });
  await native.conntrackAggregate({ netnsPath, family: 4, status: { value: 0, mask: 2 } });
  // fewer flows followed than the burst makes: the rest are counted, not kept
  const flows = new native.UnrepliedFlows({ maxFlows: 200 });
  await flows.dump({ netnsPath, maxGroups: 4 });
  await exited(burst(flood, lab.ns, '10.9.5.1', 300));
  const flush = nsRun(lab.ns, 'conntrack', ['-F']).catch(() => undefined);
  const dumping = flows.dump({ netnsPath, maxGroups: 4 }); // while the table empties
  await assert.rejects(flows.dump({ netnsPath, maxGroups: 4 }), /a dump is under way/);
  await Promise.all([dumping, flush]);
  await flows.dump({ netnsPath, maxGroups: 4 });
}

/** Flows that wait, then die: their timeout runs out between two dumps. */
async function unrepliedDeaths(lab: ConntrackLab): Promise<void> {
  const netnsPath = `/run/netns/${lab.ns}`;
  const flows = new native.UnrepliedFlows({ maxFlows: 10 });
  for (let i = 0; i < 20; i++) {
    await nsRun(lab.ns, 'conntrack', ['-I', '-p', 'udp', '-s', '10.8.0.1', '-d', `10.9.6.${i + 1}`, '--sport', '5000', '--dport', '53', '-t', '1']);
  }
  const first = await flows.dump({ netnsPath, maxGroups: 4 });
  assert.equal(first.unfollowed, 10, 'past maxFlows, counted');
  await new Promise((r) => setTimeout(r, 2100));
  const { died } = await flows.dump({ netnsPath, maxGroups: 4 });
  assert.equal(died.values.length, 5 * 5, 'four destinations and the rest');
}

async function legacyRound(ns: string): Promise<number> {
  let bytes = 0;
  for (const family of [4, 6] as const) {
    await native.iptablesLegacySave({ netnsPath: `/run/netns/${ns}`, family, tables: [] }, (slice) => (bytes += slice.length));
  }
  await rejectsWith(native.iptablesLegacySave({ netnsPath: `/run/netns/${ns}`, family: 4, tables: ['no_such_table'] }, () => undefined), 'ENOENT');
  return bytes;
}

async function errorPaths(): Promise<void> {
  const tracer = new native.DropTracer();
  await rejectsWith(tracer.start({ ...TRACER, btfPath: '/nonexistent/vmlinux', onSamples: () => undefined }), 'ENOENT');
  await assert.rejects(tracer.start({ ...TRACER, btfPath: '/etc/hostname', onSamples: () => undefined }), /btf__parse/);
  await rejectsWith(native.conntrackStats('/run/netns/fwasan-missing'), 'ENOENT');
  await rejectsWith(new native.UnrepliedFlows({ maxFlows: 1 }).dump({ netnsPath: '/run/netns/fwasan-missing', maxGroups: 1 }), 'ENOENT');
  await rejectsWith(native.resolveKernelAddresses('/nonexistent/kallsyms', [1n]), 'ENOENT');
  await rejectsWith(new native.DnsTracer().start({ ...DNS, cgroupPath: '/nonexistent/cgroup' }), 'ENOENT');
  await rejectsWith(new native.DnsTracer().start({ ...DNS, cgroupPath: '', hook: 'cgroup_skb' }), 'EOPNOTSUPP');
  await rejectsWith(new native.ConnTracker().start({ ...CONNECTIONS, btfPath: '/nonexistent/vmlinux' }), 'ENOENT');
  await assert.rejects(new native.NetnsIterator().start({ btfPath: '/etc/hostname' }), /bpf_object__open|bpf_object__load/);
}

async function main(): Promise<void> {
  const flood = await buildUdpflood();
  const lab = await conntrackLab('fwasan');
  const rules = `fwasanr${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', rules]);
  try {
    // the drop rule: UDP to 10.97.0.0/16 leaves through lo and is dropped on output, after conntrack saw it
    await nsRun(lab.ns, 'ip', ['route', 'add', '10.97.0.0/16', 'dev', 'lo']);
    await nsRun(lab.ns, 'nft', ['add', 'rule', 'inet', 'fwct', 'out', 'ip', 'daddr', '10.97.0.0/16', 'drop']);
    // DNS queries leave through lo, unanswered
    await nsRun(lab.ns, 'ip', ['route', 'add', '10.98.0.0/16', 'dev', 'lo']);
    const services = makeServices(50, { variety: true });
    await loadIptables(rules, 'legacy', renderIptables(services, { clusterCIDR: '10.0.0.0/8', kubeletMarkDrop: true }));
    await loadIptables(rules, 'legacy', '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s fd00::/64 -p tcp -m tcp --dport 80 -j REJECT --reject-with tcp-reset\nCOMMIT\n', 'ipv6');

    await unrepliedDeaths(lab);
    const started = Date.now();
    let samples = 0;
    let text = 0;
    let dnsRows = 0;
    let keys = 0;
    for (let round = 0; round < ROUNDS; round++) {
      samples += await tracerRound(flood, lab.ns, round);
      dnsRows += await dnsRound(flood, lab.ns, round);
      keys += await connectionsRound(lab.ns, round);
      await iteratorRound(round);
      await conntrackRound(flood, lab);
      text += await legacyRound(rules);
      if (round % 50 === 0) {
        await errorPaths();
        const names = await native.resolveKernelAddresses('/proc/kallsyms', [0xffffffff81000000n, 1n]);
        assert.equal(names.length, 2);
      }
    }
    assert.ok(samples > 0, 'samples arrived while tracers were stopped');
    assert.ok(dnsRows > 0, 'DNS rows drained');
    assert.ok(keys > 0, 'connects were drained');
    console.log(`asan stress: ${ROUNDS} rounds in ${((Date.now() - started) / 1000).toFixed(0)} s, ${samples} samples, ${dnsRows} DNS rows, ${keys} connection keys, ${(text / 2 ** 20).toFixed(1)} MiB of rules text`);
  } finally {
    await run('ip', ['netns', 'del', rules]).catch(() => undefined);
    await lab.remove().catch(() => undefined);
  }
  // finalizers of the wrapped objects run before LSan looks at what is left
  for (let i = 0; i < 3; i++) {
    global.gc?.();
    await new Promise((r) => setImmediate(r));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
