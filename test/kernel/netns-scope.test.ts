// NetnsScope: which network namespaces a daemon counts. For real: two "nodes" on this kernel, each a PID namespace
// with a node netns and a pod netns its tasks live in; node A's kernel sources, started inside A, count the drops
// and failed connects of A's namespaces and none of B's, which a tracer outside both sees. Then the scope's
// reading policy and its degraded mode against a fake iterator.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { DropSource } from '../../src/kernel/drops';
import { NetnsScope } from '../../src/kernel/netns-scope';
import { DEFAULT_BENIGN_REASONS } from '../../src/kernel/reasons';
import type { NativeNetnsIterator } from '../../src/native';
import { eventually, kernelSkip } from '../helpers/env';
import { netnsInode, nsRun, run } from '../lab/netns';
import { udpflood } from '../lab/udpflood';
import type { NodeReport, NodeRequest } from './scoped-node';

const NODE = path.join(__dirname, 'scoped-node.js');
const PACKETS = 50;
const CONNECTS = 3;
const silent = pino({ level: 'silent' });

/** A netns whose UDP to 10.99.0.0/16 an OUTPUT rule drops, and whose loopback refuses connects to closed ports. */
async function dropper(ns: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
  await nsRun(ns, 'ip', ['route', 'add', '10.99.0.0/16', 'dev', 'lo']);
  await nsRun(ns, 'iptables', ['-A', 'OUTPUT', '-d', '10.99.0.0/16', '-p', 'udp', '-j', 'DROP']);
}

/** A PID namespace of its own (with its /proc) running `cmd` in netns `ns`; killed with the unshare that holds it. */
function inPidNamespace(ns: string, cmd: string[], ipc: boolean): ChildProcess {
  return spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'ip', 'netns', 'exec', ns, ...cmd], {
    stdio: ['ignore', 'ignore', 'inherit', ...(ipc ? ['ipc' as const] : [])],
  });
}

function ask(node: ChildProcess, req: NodeRequest): Promise<NodeReport> {
  return new Promise((resolve, reject) => {
    node.once('message', (m) => resolve(m as NodeReport));
    node.once('exit', (code) => reject(new Error(`the node exited ${code}`)));
    node.send(req);
  });
}

async function traffic(ns: string, port: number): Promise<void> {
  await udpflood(ns, { dst: '10.99.0.1', firstPort: port, count: PACKETS });
  const connect = `const s = require('net').connect(${port}, '127.0.0.1'); s.on('error', () => {});`;
  for (let i = 0; i < CONNECTS; i++) await nsRun(ns, process.execPath, ['-e', connect]);
}

describe('two nodes on one kernel, each in its PID namespace', { skip: kernelSkip, timeout: 60_000 }, () => {
  test('node A\'s sources count the drops and connects of A\'s namespaces and none of B\'s', async (t) => {
    const p = `fwsc${randomBytes(3).toString('hex')}`;
    const [a, aPod, b, bPod] = [`${p}-a`, `${p}-a1`, `${p}-b`, `${p}-b1`];
    const children: ChildProcess[] = [];
    t.after(async () => {
      for (const c of children) c.kill('SIGKILL');
      for (const ns of [a, aPod, b, bPod]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    });
    for (const ns of [a, aPod, b, bPod]) await dropper(ns);
    const [inA, inAPod, inB, inBPod] = [a, aPod, b, bPod].map(netnsInode) as [number, number, number, number];
    // node B: its tasks live in its node and pod namespaces, in a PID namespace A cannot see into
    children.push(inPidNamespace(b, ['sh', '-c', `ip netns exec ${bPod} sleep 600 & exec sleep 600`], false));
    // a tracer outside both nodes: the control, which sees every namespace
    const control = new DropSource({
      btfPath: '', maxFlows: 4096, maxRetransmitFlows: 1024, samplesPerSecond: 0, ringBytes: 4096, benignReasons: DEFAULT_BENIGN_REASONS, logger: silent,
    });
    const seen = new Map<number, number>();
    control.onDrops((list) => list.filter((d) => d.tuple.proto === 17).forEach((d) => seen.set(d.netns, (seen.get(d.netns) ?? 0) + d.packets)));
    await control.start();
    t.after(() => control.stop());
    const node = inPidNamespace(a, [process.execPath, NODE, aPod], true);
    children.push(node);
    const first = await new Promise<NodeReport>((resolve, reject) => {
      node.once('message', (m) => resolve(m as NodeReport));
      node.once('exit', (code) => reject(new Error(`node A exited ${code}`)));
    });
    assert.deepEqual(first.up, { netns_scope: true, drops: true, retransmits: true, connections: true }, JSON.stringify(first));
    assert.ok(first.scope.namespaces.includes(inA), 'node A\'s own netns is in its scope');
    assert.ok(!first.scope.namespaces.includes(inB) && !first.scope.namespaces.includes(inBPod), 'B\'s are not');

    for (const [i, ns] of [a, aPod, b, bPod].entries()) await traffic(ns, 9000 + i);
    let report = first;
    await eventually(async () => {
      report = await ask(node, { cmd: 'drain' });
      return (report.drops[inA] ?? 0) >= PACKETS && (report.drops[inAPod] ?? 0) >= PACKETS && (report.failedConnects[inAPod] ?? 0) >= CONNECTS;
    }, 'node A to count its namespaces\' drops and connects', 15_000).catch(() => undefined); // the assertions say what is missing
    await eventually(async () => {
      await control.drain();
      return (seen.get(inB) ?? 0) >= PACKETS && (seen.get(inBPod) ?? 0) >= PACKETS;
    }, 'the control to see B\'s drops', 15_000);

    assert.equal(report.drops[inA], PACKETS, 'node A counts its own netns\'s drops');
    assert.equal(report.drops[inAPod], PACKETS, 'and its pod\'s, a task of its PID namespace');
    assert.equal(report.failedConnects[inA], CONNECTS);
    assert.equal(report.failedConnects[inAPod], CONNECTS);
    assert.equal(report.drops[inB], undefined, 'node B\'s drops are not node A\'s');
    assert.equal(report.drops[inBPod], undefined);
    assert.equal(report.failedConnects[inB], undefined, 'nor its connects');
    assert.equal(report.failedConnects[inBPod], undefined);
    assert.ok(report.leftOut >= 4, `B's records were seen and left out (${report.leftOut})`);
    assert.ok(report.scope.namespaces.includes(inAPod), 'the pod\'s netns joined the scope');
    await ask(node, { cmd: 'stop' }).catch(() => undefined);
  });
});

/** A scripted iterator: each read() returns `list` (or throws `error`) and is counted. */
class FakeIterator implements NativeNetnsIterator {
  list: number[] = [];
  error: Error | undefined;
  reads = 0;
  async start(): Promise<{ log: string[] }> {
    return { log: [] };
  }
  async read(): Promise<number[]> {
    this.reads++;
    if (this.error) throw this.error;
    return this.list;
  }
  stop(): void {}
}

function scopeWith(native: () => { NetnsIterator: new () => NativeNetnsIterator }, clock: { now: number }, logger = silent): NetnsScope {
  return new NetnsScope({ btfPath: '/dev/null', refreshMs: 1000, maxAgeMs: 10_000, logger, native, now: () => clock.now });
}

const records = (...netns: number[]) => netns.map((n) => ({ netns: n }));

describe('NetnsScope\'s reading policy (a fake iterator)', () => {
  test('an unknown netns is looked for again, at most once a refresh; the list is read afresh at least every max age', async () => {
    const it = new FakeIterator();
    it.list = [1, 2];
    const clock = { now: 0 };
    const scope = scopeWith(() => ({ NetnsIterator: class { constructor() { return it; } } as never }), clock);
    await scope.start();
    assert.equal(it.reads, 1);
    assert.deepEqual(await scope.keep(records(1, 2, 2)), records(1, 2, 2), 'known: no read');
    assert.equal(it.reads, 1);
    it.list = [1, 2, 3];
    assert.deepEqual(await scope.keep(records(3, 9)), [], 'within a refresh of the last read: not read again');
    clock.now = 1000;
    assert.deepEqual(await scope.keep(records(3, 9)), records(3), 'a refresh later: read again, 3 joined, 9 is not ours');
    assert.equal(it.reads, 2);
    clock.now = 1500;
    await scope.keep(records(9));
    assert.equal(it.reads, 2, '9 again within a refresh: no read');
    it.list = [1];
    clock.now = 11_000;
    assert.deepEqual(await scope.keep(records(2)), [], 'past the max age: read again even though 2 was known, and 2 is gone');
    assert.equal(it.reads, 3);
    assert.equal(scope.leftOut(), 5);
    assert.ok(scope.has(1) && !scope.has(2));
  });

  test('a failed read keeps the last list and is counted', async () => {
    const it = new FakeIterator();
    it.list = [1];
    const clock = { now: 0 };
    const scope = scopeWith(() => ({ NetnsIterator: class { constructor() { return it; } } as never }), clock);
    await scope.start();
    it.error = Object.assign(new Error('bpf_iter_create: Cannot allocate memory'), { code: 'ENOMEM' });
    clock.now = 5000;
    assert.deepEqual(await scope.keep(records(1, 7)), records(1));
    assert.equal(scope.stats()[0]!.errors, 1);
    assert.equal(scope.stats()[0]!.up, true);
  });

  test('an iterator that cannot load: every netns counts, the source is down, and the log says so', async () => {
    const lines: { msg: string; level: number }[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    const failing = class { start(): Promise<never> { return Promise.reject(Object.assign(new Error('bpf_object__load: Operation not permitted'), { code: 'EPERM', syscall: 'bpf_object__load' })); } };
    const scope = scopeWith(() => ({ NetnsIterator: failing as never }), { now: 0 }, logger);
    await scope.start();
    assert.deepEqual(await scope.keep(records(1, 2, 3)), records(1, 2, 3));
    assert.ok(scope.has(12345));
    assert.deepEqual(scope.current().all, true);
    const [stat] = scope.stats();
    assert.equal(stat!.up, false);
    assert.match(stat!.reason, /^cannot list this PID namespace's network namespaces: EPERM loading the task iterator \(bpf_object__load\)(: needs| although the process holds) CAP_BPF and CAP_PERFMON/);
    const warn = lines.find((l) => l.level === 40);
    assert.match(warn?.msg ?? '', /counting every network namespace of the kernel, other nodes' too$/);
  });
});
