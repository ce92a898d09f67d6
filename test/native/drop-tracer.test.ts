// The addon's DropTracer on the real kernel: lifecycle, bad input, and that stop() leaves nothing loaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { addon, TRACER_COUNTERS, type DropRecord, type DropSample, type NativeDropTracer, type NativeError, type TracerOptions } from '../../src/native';
import { eventually, kernelSkip, programIdsHeldBy, unloaded } from '../helpers/env';
import { alreadyStarted, notStarted, startsWhileStarting } from '../helpers/lifecycle';
import { nsRun, run } from '../lab/netns';
import { udpflood } from '../lab/udpflood';

const options = (over: Partial<TracerOptions> = {}): TracerOptions => ({
  btfPath: '',
  maxFlows: 1024,
  maxRetransmitFlows: 256,
  samplesPerSecond: 10,
  ringBytes: 64 * 1024,
  skipReasons: [],
  onSamples: () => undefined,
  ...over,
});

/** A netns of this test's own with lo up, removed after it. */
async function netns(t: TestContext, prefix: string): Promise<string> {
  const ns = `${prefix}${process.pid}`;
  await run('ip', ['netns', 'add', ns]);
  t.after(() => run('ip', ['netns', 'del', ns]).catch(() => undefined));
  await nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
  return ns;
}

/** A netns whose UDP to 10.97.0.0/16 an iptables DROP rule drops. */
async function droppingNetns(t: TestContext, prefix: string): Promise<string> {
  const ns = await netns(t, prefix);
  await nsRun(ns, 'ip', ['route', 'add', '10.97.0.0/16', 'dev', 'lo']);
  await nsRun(ns, 'iptables', ['-A', 'OUTPUT', '-d', '10.97.0.0/16', '-p', 'udp', '-j', 'DROP']);
  return ns;
}

// Runs in a netns: a connection on lo; prints the client's port, closes it when stdin ends; the server closes on
// the client's FIN.
const TIME_WAIT = `
const net = require('node:net');
const server = net.createServer((s) => s.on('end', () => s.end()).resume());
server.listen(7100, '127.0.0.1', () => {
  const c = net.connect(7100, '127.0.0.1', () => {
    process.stdout.write(c.localPort + '\\n');
    process.stdin.on('end', () => c.end()).resume();
  });
  c.resume();
});
setTimeout(() => process.exit(0), 15000);
`;

// this kernel (6.11 and later) names the receiving socket: the variant that tells TIME_WAIT segments apart
const KFREE_SKB = 'kfree_skb_rx_sk';

test('DropTracer on the real kernel', { skip: kernelSkip }, async (t) => {
  await t.test('starts, attaches kfree_skb and the retransmit hooks, and stop() unloads everything', async () => {
    const tracer = new (addon().DropTracer)();
    const info = await tracer.start(options());
    assert.ok(info.programs.includes(KFREE_SKB), `programs: ${info.programs.join(', ')}`);
    assert.ok(info.programs.includes('tcp_retransmit_skb'));
    assert.deepEqual(info.missing, []);
    const ids = programIdsHeldBy(process.pid);
    assert.equal(ids.length, 3, 'one program per hook, held by this process');
    const drained = await tracer.drain();
    assert.ok(Array.isArray(drained.drops));
    assert.deepEqual(Object.keys(drained.counters), [...TRACER_COUNTERS], 'the kernel\'s counters, named and ordered as TypeScript lists them');
    assert.ok(Object.values(drained.counters).every((n) => typeof n === 'number'));
    tracer.stop();
    tracer.stop(); // idempotent
    assert.deepEqual(programIdsHeldBy(process.pid), []);
    await unloaded(ids, 'the programs to be unloaded');
  });

  await t.test('a second start() after stop() works', async () => {
    const tracer = new (addon().DropTracer)();
    await tracer.start(options());
    tracer.stop();
    const info = await tracer.start(options());
    assert.ok(info.programs.length >= 1);
    await assert.rejects(tracer.start(options()), alreadyStarted('DropTracer'));
    tracer.stop();
  });

  await t.test('a missing BTF file is a clear ENOENT error, and nothing stays loaded', async () => {
    const tracer = new (addon().DropTracer)();
    await assert.rejects(tracer.start(options({ btfPath: '/nonexistent/vmlinux' })), (err: NativeError) => {
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.syscall, 'access');
      assert.match(err.message, /no BTF at \/nonexistent\/vmlinux.*CONFIG_DEBUG_INFO_BTF/);
      return true;
    });
    await assert.rejects(tracer.drain(), notStarted);
    tracer.stop();
  });

  await t.test('a file that is not BTF is refused', async () => {
    const tracer = new (addon().DropTracer)();
    await assert.rejects(tracer.start(options({ btfPath: '/etc/hostname' })), /btf__parse/);
  });

  await t.test('stop() while a drain runs detaches at once and frees when the drain ends; start() works at once', async () => {
    const tracer: NativeDropTracer = new (addon().DropTracer)();
    await tracer.start(options());
    const ids = programIdsHeldBy(process.pid);
    const pending = tracer.drain();
    await assert.rejects(tracer.drain(), (err: NativeError) => err.code === 'EBUSY' && /a drain is already running/.test(err.message));
    tracer.stop();
    const restarted = tracer.start(options());
    const result = await pending;
    assert.ok(Array.isArray(result.drops));
    await unloaded(ids, 'the programs to be unloaded');
    assert.ok((await restarted).programs.includes(KFREE_SKB));
    tracer.stop();
    assert.deepEqual(programIdsHeldBy(process.pid), []);
  });

  await t.test('start() while a start is under way is refused, even after stop(); nothing stays loaded', async () => {
    await startsWhileStarting('DropTracer', new (addon().DropTracer)(), options());
  });

  await t.test('stop() while samples stream in: no sample after it, nothing left loaded', async (tt) => {
    const ns = await droppingNetns(tt, 'fwtracer');
    const tracer = new (addon().DropTracer)();
    let batches = 0;
    let stopped = false;
    let afterStop = 0;
    await tracer.start(options({ samplesPerSecond: 100_000, ringBytes: 1 << 20, onSamples: (s: DropSample[]) => {
      batches++;
      if (stopped) afterStop += s.length;
    } }));
    const ids = programIdsHeldBy(process.pid);
    const flood = udpflood(ns, { dst: '10.97.0.1', firstPort: 1, seconds: 3 });
    await eventually(() => batches >= 3, 'samples from the flood');
    tracer.stop();
    stopped = true;
    const during = batches;
    await flood;
    await new Promise((r) => setImmediate(r));
    assert.equal(afterStop, 0, 'no sample delivered after stop()');
    assert.equal(batches, during);
    assert.deepEqual(programIdsHeldBy(process.pid), []);
    await unloaded(ids, 'the programs to be unloaded');
  });

  await t.test('skipped reasons are counted, never aggregated; the other reasons are', async (tt) => {
    const ns = await droppingNetns(tt, 'fwskip');
    const inode = statSync(`/run/netns/${ns}`).ino;
    for (const skipReasons of [['NETFILTER_DROP'], ['SKB_DROP_REASON_NETFILTER_DROP'], []]) {
      const tracer = new (addon().DropTracer)();
      await tracer.start(options({ skipReasons }));
      try {
        await udpflood(ns, { dst: '10.97.0.1', firstPort: 1, count: 200 });
        const { drops, counters } = await tracer.drain();
        const mine = drops.filter((d) => d.netns === inode);
        if (skipReasons.length) {
          assert.deepEqual(mine, [], `${skipReasons[0]}: no flow kept`);
          assert.ok(counters.skipped > 0, `${skipReasons[0]}: counted (${counters.skipped})`);
        } else {
          assert.ok(mine.length > 0, 'without skipping, the drops are kept flow by flow');
        }
      } finally {
        tracer.stop();
      }
    }
  });

  await t.test('a segment a TIME_WAIT socket takes is counted apart, not kept as a drop', async (tt) => {
    const ns = await netns(tt, 'fwtw');
    const inode = statSync(`/run/netns/${ns}`).ino;
    const tracer = new (addon().DropTracer)();
    const { dropReasons } = await tracer.start(options());
    const reason = (name: string) => Number(Object.entries(dropReasons).find(([, n]) => n === `SKB_DROP_REASON_${name}`)![0]);
    try {
      // the client closes first (TIME_WAIT); its last ACK is dropped, so the server's FIN comes again, to TIME_WAIT
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', TIME_WAIT], { stdio: ['pipe', 'pipe', 'inherit'] });
      tt.after(() => child.kill());
      const port = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      await nsRun(ns, 'iptables', ['-A', 'OUTPUT', '-p', 'tcp', '--sport', port, '--tcp-flags', 'ALL', 'ACK', '-j', 'DROP']);
      child.stdin!.end();
      const mine: DropRecord[] = [];
      let timeWait = 0;
      // the client's ACK dropped twice: the second answered the server's FIN again, which its TIME_WAIT socket took
      const acks = () => mine.filter((d) => d.reason === reason('NETFILTER_DROP') && String(d.sport) === port).reduce((n, d) => n + d.packets, 0);
      await eventually(async () => {
        const { drops, counters } = await tracer.drain();
        mine.push(...drops.filter((d) => d.netns === inode));
        timeWait = counters.timeWait;
        return acks() >= 2 && timeWait > 0;
      }, 'the server\'s FIN again, at the TIME_WAIT socket', 10_000);
      assert.deepEqual(mine.filter((d) => d.reason === reason('NOT_SPECIFIED')), [], 'no NOT_SPECIFIED drop kept for the TIME_WAIT socket');
    } finally {
      tracer.stop();
    }
  });

  await t.test('start() names the drop reasons of the running kernel, from the BTF it loaded with', async () => {
    const tracer = new (addon().DropTracer)();
    const { dropReasons } = await tracer.start(options());
    tracer.stop();
    assert.ok(Object.values(dropReasons).includes('SKB_DROP_REASON_NETFILTER_DROP'));
    assert.ok(Object.values(dropReasons).includes('SKB_DROP_REASON_NO_SOCKET'));
    assert.equal(dropReasons[0], 'SKB_NOT_DROPPED_YET', 'keys are the enumerators\' values');
  });
});
