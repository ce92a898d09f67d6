// Listen-queue overflows: the /proc readers, a pod whose accept queue fills in the lab (no drop event, only the
// pod netns's TcpExt counters), and one scan over 200 network namespaces (its cost is printed as a diagnostic).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { test } from 'node:test';
import pino from 'pino';
import { ListenOverflowReader } from '../../src/health/listen';
import { addrsFromIfInet6, localAddrsFromFibTrie, tcpExtCounters } from '../../src/health/netstat';
import type { ListenOverflowObservation } from '../../src/observe/health';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import { netnsInode, nsRun, run } from '../lab/netns';

const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.77.5.0/24 2 0 2
        |-- 10.77.5.0
           /24 link UNICAST
        |-- 10.77.5.10
           /32 host LOCAL
        |-- 10.77.5.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.77.5.10
        /32 host LOCAL
     |-- 10.77.6.3
        /32 host LOCAL
`;
const IF_INET6 = `fe8000000000000000fc00fffe000001 04 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 04 40 00 82     eth0
20010db8000000010000000000000a0b 05 40 00 80     eth1
`;

test('TcpExt counters, fib_trie LOCAL leaves, if_inet6 global addresses', () => {
  const names = ['ListenOverflows', 'ListenDrops', 'Missing'];
  const stats = tcpExtCounters('TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 36 37\nIpExt: InNoRoutes\nIpExt: 4\n', names);
  assert.deepEqual([...stats], [['ListenOverflows', 36], ['ListenDrops', 37]]);
  assert.deepEqual([...tcpExtCounters('IpExt: A\nIpExt: 1\nTcpExt: ListenDrops\nTcpExt: 5', names)], [['ListenDrops', 5]]);
  assert.equal(tcpExtCounters('garbage\nmore garbage', names).size, 0);
  assert.equal(tcpExtCounters('TcpExt: ListenDrops\nIpExt: 4\n', names).size, 0, 'a header without its values');
  // this kernel's own file has both counters
  assert.equal(tcpExtCounters(fs.readFileSync('/proc/self/net/netstat', 'utf8'), names).size, 2);
  assert.deepEqual(localAddrsFromFibTrie(FIB_TRIE), ['10.77.5.10', '10.77.6.3']);
  assert.deepEqual(addrsFromIfInet6(IF_INET6), ['fd00::2', '2001:db8:0:1::a0b']);
});

test('a pod whose accept queue is full: ListenOverflows in its netns, attributed by its address', { timeout: 120_000 }, async (t) => {
  if (kernelSkip) {
    t.skip(kernelSkip);
    return;
  }
  const lab = await Lab.create({ pods: 2 });
  const pods = lab.pods.map((name, i) => ({ namespace: 'default', name, ip: lab.podIp(i) }));
  const reader = new ListenOverflowReader({
    intervalMs: 3_600_000,
    podByAddress: (ip) => pods.find((p) => p.ip === ip),
    logger: pino({ level: 'silent' }),
  });
  const seen: ListenOverflowObservation[] = [];
  reader.onObservations((items) => seen.push(...items));
  try {
    await reader.start();
    assert.equal(seen.length, 0, 'the first scan primes');
    assert.ok(reader.lastScan().namespaces >= 2, JSON.stringify(reader.lastScan()));
    const undo = await lab.stopAccepting(0);
    const inode = netnsInode(lab.pods[0] as string);
    const ours = () => seen.filter((o) => o.netns === inode);
    await eventually(async () => {
      // two connections fit the backlog of 1; the SYNs after them are consumed by the kernel
      await Promise.all(Array.from({ length: 6 }, () => lab.tcpConnect(lab.node, lab.podIp(0), lab.podPort, 300)));
      await reader.read();
      return ours().length > 0;
    }, 'an overflow observation for pod 0', 60_000);
    await undo();
    const o = ours()[0] as ListenOverflowObservation;
    assert.ok(o.listenOverflows > 0, JSON.stringify(o));
    assert.ok(o.listenDrops >= o.listenOverflows, 'ListenDrops counts every listen drop, overflows included');
    assert.ok(o.addrs.includes(lab.podIp(0)), JSON.stringify(o.addrs));
    assert.deepEqual(o.pod, pods[0]);
    const other = netnsInode(lab.pods[1] as string);
    assert.ok(!seen.some((x) => x.netns === other), 'pod 1 overflowed nothing');
    const stats = reader.stats()[0]!;
    assert.equal(stats.up, true);
    assert.equal(stats.source, 'listen_overflows');
    // nothing new: no observation, and the counter is not counted twice
    const before = ours().length;
    await reader.read();
    assert.equal(ours().length, before);
  } finally {
    await reader.stop();
    await lab.destroy();
  }
});

test('200 pod-like namespaces: one scan finds them all; processes that vanish are skipped silently', { timeout: 300_000 }, async (t) => {
  if (kernelSkip) {
    t.skip(kernelSkip);
    return;
  }
  const prefix = `fwl${randomBytes(3).toString('hex')}`;
  const names = Array.from({ length: 200 }, (_, i) => `${prefix}-${i}`);
  const sleepers: ChildProcess[] = [];
  const reader = new ListenOverflowReader({ intervalMs: 3_600_000, logger: pino({ level: 'silent' }) });
  try {
    await run('ip', ['-batch', '-'], { input: names.map((n) => `netns add ${n}\n`).join('') });
    for (const [i, n] of names.entries()) {
      await nsRun(n, 'ip', ['addr', 'add', `10.201.${i >> 8}.${i & 255}/32`, 'dev', 'lo']);
      const child = spawn('ip', ['netns', 'exec', n, 'sleep', '600'], { stdio: 'ignore' });
      sleepers.push(child);
    }
    await eventually(() => names.every((n) => fs.existsSync(`/run/netns/${n}`)) && sleepers.every((c) => c.pid !== undefined), 'sleepers');
    await reader.start();
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < 9; i++) {
      await reader.read();
      wall.push(reader.lastScan().ms);
      cpu.push(reader.lastScan().cpuMs);
    }
    const scan = reader.lastScan();
    assert.ok(scan.namespaces >= 200, JSON.stringify(scan));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]?.toFixed(1);
    t.diagnostic(`scan of ${scan.processes} processes, ${scan.namespaces} network namespaces: median ${median(wall)} ms wall, ${median(cpu)} ms CPU`);
    const errorsBefore = reader.stats()[0]!.errors;
    // half of them exit while scans run
    const scans = (async () => {
      for (let i = 0; i < 20; i++) await reader.read();
    })();
    for (const c of sleepers.slice(0, 100)) c.kill('SIGKILL');
    await scans;
    assert.equal(reader.stats()[0]!.errors, errorsBefore, 'a vanished process is not an error');
    await eventually(async () => {
      await reader.read();
      return reader.lastScan().namespaces < scan.namespaces - 90;
    }, 'the exited namespaces gone from the scan');
  } finally {
    await reader.stop();
    for (const c of sleepers) c.kill('SIGKILL');
    await run('ip', ['-batch', '-'], { input: names.map((n) => `netns del ${n}\n`).join('') }).catch(() => undefined);
  }
});

test('readBy: a read that covers the time asked, its end told to onRead (the timing itself: periodic.test.ts)', async () => {
  const reader = new ListenOverflowReader({ intervalMs: 3_600_000, logger: pino({ level: 'silent' }) });
  const reads: number[] = [];
  reader.onRead((at) => reads.push(at));
  try {
    await reader.start();
    assert.equal(reads.length, 1, 'the first read on start');
    const asked = Date.now() + 50;
    reader.readBy(asked);
    await eventually(() => reads.length > 1, 'a read for the time asked');
    assert.ok(reads[1]! >= asked);
  } finally {
    await reader.stop();
  }
});
