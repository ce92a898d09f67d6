// The addon's ConnTracker and NetnsIterator on the real kernel: exact counts of real connects in a namespace of
// their own (IPv4, IPv6, and IPv4 through a dual-stack socket), the lifecycle, and that stop() unloads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { addon, CONNECTION_COUNTERS, CONNECT_LATENCY_SLOTS, type ConnectionRecord, type NativeError } from '../../src/native';
import { eventually, kernelSkip, programIdsHeldBy, unloaded } from '../helpers/env';
import { alreadyStarted, notStarted } from '../helpers/lifecycle';
import { netnsInode, nsRun, run } from '../lab/netns';

const OPTIONS = { btfPath: '', maxKeys: 1024, maxPending: 1024 };

// In the netns: a dual-stack listener on PORT that closes what it accepts; `established` connects each to
// 127.0.0.1, ::1 and ::ffff:127.0.0.1 (an IPv6 socket to an IPv4 address), then `refused` to a closed port.
const CONNECTS = `
const net = require('net');
const [port, established, refused] = process.argv.slice(1).map(Number);
const once = (host, p) => new Promise((resolve) => { const s = net.connect(p, host, () => { s.destroy(); resolve(); }); s.on('error', resolve); });
const server = net.createServer((s) => s.destroy()).listen(port, '::', async () => {
  for (const host of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) for (let i = 0; i < established; i++) await once(host, port);
  for (let i = 0; i < refused; i++) await once('127.0.0.1', port + 1);
  server.close();
});`;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('ConnTracker on the real kernel', { skip: kernelSkip }, async (t) => {
  await t.test('counts each connect once on its client address × destination: attempted, established, failed, timed', async (tt) => {
    const ns = `fwconn${process.pid}`;
    await run('ip', ['netns', 'add', ns]);
    tt.after(() => run('ip', ['netns', 'del', ns]).catch(() => undefined));
    await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
    const tracker = new (addon().ConnTracker)();
    await tracker.start(OPTIONS);
    tt.after(() => tracker.stop());
    await nsRun(ns, process.execPath, ['-e', CONNECTS, '7000', '5', '3']);
    const inode = netnsInode(ns);
    const { connections, counters, missed } = await tracker.drain();
    assert.equal(typeof missed, 'number');
    const mine = connections.filter((c) => c.netns === inode);
    const by = (daddr: string, dport: number) => mine.filter((c) => c.daddr === daddr && c.dport === dport);
    const one = (list: ConnectionRecord[]) => {
      assert.equal(list.length, 1, JSON.stringify(list));
      return list[0]!;
    };
    const v4 = one(by('127.0.0.1', 7000));
    assert.deepEqual([v4.family, v4.saddr, v4.attempted, v4.established, v4.failed], [4, '127.0.0.1', 10, 10, 0], 'IPv4 and IPv4 through a dual-stack socket, on one key');
    const v6 = one(by('::1', 7000));
    assert.deepEqual([v6.family, v6.saddr, v6.attempted, v6.established, v6.failed], [6, '::1', 5, 5, 0]);
    const refused = one(by('127.0.0.1', 7001));
    assert.deepEqual([refused.attempted, refused.established, refused.failed], [3, 0, 3]);
    assert.equal(mine.length, 3, 'nothing else in this netns');
    for (const c of [v4, v6]) {
      assert.equal(c.latencyUs.length, CONNECT_LATENCY_SLOTS);
      assert.equal(sum(c.latencyUs), c.established, 'every handshake timed, in one slot');
      assert.ok(c.latencySumUs >= 0);
    }
    assert.equal(sum(refused.latencyUs), 0, 'a failed connect has no handshake time');
    assert.deepEqual(Object.keys(counters), [...CONNECTION_COUNTERS], 'the kernel\'s counters, named and ordered as TypeScript lists them');
    assert.ok(counters.connects >= 18 && counters.connectionKeys >= 3);
    assert.equal(counters.connectionMapFull, 0);
    const again = await tracker.drain();
    assert.deepEqual(again.connections.filter((c) => c.netns === inode), [], 'a drain empties the map');
  });

  await t.test('lifecycle: one start at a time, drain only when started, stop() unloads, a missing BTF is ENOENT', async () => {
    const tracker = new (addon().ConnTracker)();
    await assert.rejects(tracker.drain(), notStarted);
    const first = tracker.start(OPTIONS);
    await assert.rejects(tracker.start(OPTIONS), alreadyStarted('ConnTracker'));
    await first;
    const ids = programIdsHeldBy(process.pid);
    assert.equal(ids.length, 1, 'one program, held by this process');
    const pending = tracker.drain();
    await assert.rejects(tracker.drain(), (err: NativeError) => err.code === 'EBUSY');
    tracker.stop(); // the maps stay until the drain in flight lets go of them
    assert.ok(Array.isArray((await pending).connections));
    tracker.stop();
    assert.deepEqual(programIdsHeldBy(process.pid), []);
    await unloaded(ids, 'the program to be unloaded');
    await assert.rejects(new (addon().ConnTracker)().start({ ...OPTIONS, btfPath: '/nonexistent/vmlinux' }), (err: NativeError) => {
      assert.equal(err.code, 'ENOENT');
      assert.match(err.message, /no BTF at \/nonexistent\/vmlinux/);
      return true;
    });
  });
});

test('NetnsIterator on the real kernel', { skip: kernelSkip }, async (t) => {
  await t.test('lists the netns of every task it can see, a process\'s while it lives', async (tt) => {
    const ns = `fwiter${process.pid}`;
    await run('ip', ['netns', 'add', ns]);
    tt.after(() => run('ip', ['netns', 'del', ns]).catch(() => undefined));
    const iterator = new (addon().NetnsIterator)();
    await iterator.start({ btfPath: '' });
    tt.after(() => iterator.stop());
    const inode = netnsInode(ns);
    const first = await iterator.read();
    assert.ok(first.includes(statSync('/proc/self/ns/net').ino), 'our own');
    assert.ok(!first.includes(inode), 'a netns no task is in is not listed');
    assert.deepEqual(first, [...new Set(first)].sort((a, b) => a - b), 'sorted, each once');
    const sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '60'], { stdio: 'ignore' });
    tt.after(() => sleeper.kill('SIGKILL'));
    await eventually(async () => (await iterator.read()).includes(inode), 'the sleeper\'s netns');
    sleeper.kill('SIGKILL');
    await eventually(async () => !(await iterator.read()).includes(inode), 'the netns gone with its only task');
  });

  await t.test('lifecycle: one start at a time, reads only when started, overlapping reads, stop() unloads', async () => {
    const iterator = new (addon().NetnsIterator)();
    await assert.rejects(iterator.read(), notStarted);
    const first = iterator.start({ btfPath: '' });
    await assert.rejects(iterator.start({ btfPath: '' }), alreadyStarted('NetnsIterator'));
    await first;
    const ids = programIdsHeldBy(process.pid);
    assert.equal(ids.length, 1);
    const [a, b] = await Promise.all([iterator.read(), iterator.read()]);
    assert.deepEqual(a, b);
    const pending = iterator.read();
    iterator.stop(); // the program stays until the read in flight lets go of it
    assert.ok((await pending).length > 0);
    iterator.stop();
    assert.deepEqual(programIdsHeldBy(process.pid), []);
    await unloaded(ids, 'the iterator to be unloaded');
  });
});
