// The addon's DropTracer on the real kernel: lifecycle, bad input, and that stop() leaves nothing loaded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addon, type NativeDropTracer, type NativeError, type TracerOptions } from '../../src/native';
import { kernelSkip, programIdsHeldBy, unloaded } from '../helpers/env';

const options = (over: Partial<TracerOptions> = {}): TracerOptions => ({
  btfPath: '',
  maxFlows: 1024,
  maxRetransmitFlows: 256,
  samplesPerSecond: 10,
  ringBytes: 64 * 1024,
  onSamples: () => undefined,
  ...over,
});

test('DropTracer on the real kernel', { skip: kernelSkip }, async (t) => {
  await t.test('starts, attaches kfree_skb and the retransmit hooks, and stop() unloads everything', async () => {
    const tracer = new (addon().DropTracer)();
    const info = await tracer.start(options());
    assert.ok(info.programs.includes('kfree_skb_reason'), `programs: ${info.programs.join(', ')}`);
    assert.ok(info.programs.includes('tcp_retransmit_skb'));
    assert.deepEqual(info.missing, []);
    const ids = programIdsHeldBy(process.pid);
    assert.equal(ids.length, 3, 'one program per hook, held by this process');
    const drained = await tracer.drain();
    assert.ok(Array.isArray(drained.drops));
    assert.equal(typeof drained.counters.drops, 'number');
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
    await assert.rejects(tracer.start(options()), /already started/);
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
    await assert.rejects(tracer.drain(), /not started/);
    tracer.stop();
  });

  await t.test('a file that is not BTF is refused', async () => {
    const tracer = new (addon().DropTracer)();
    await assert.rejects(tracer.start(options({ btfPath: '/etc/hostname' })), /btf__parse/);
  });

  await t.test('stop() while a drain runs detaches at once and frees when the drain ends', async () => {
    const tracer: NativeDropTracer = new (addon().DropTracer)();
    await tracer.start(options());
    const ids = programIdsHeldBy(process.pid);
    const pending = tracer.drain();
    await assert.rejects(tracer.drain(), /already running/);
    tracer.stop();
    const result = await pending;
    assert.ok(Array.isArray(result.drops));
    assert.deepEqual(programIdsHeldBy(process.pid), []);
    await unloaded(ids, 'the programs to be unloaded');
  });

  await t.test('btfEnum names the drop reasons of the running kernel', () => {
    const reasons = addon().btfEnum('', 'skb_drop_reason');
    assert.ok(Object.values(reasons).includes('SKB_DROP_REASON_NETFILTER_DROP'));
    assert.ok(Object.values(reasons).includes('SKB_DROP_REASON_NO_SOCKET'));
    assert.deepEqual(addon().btfEnum('', 'no_such_enum_anywhere'), {});
    assert.throws(() => addon().btfEnum('/nonexistent', 'skb_drop_reason'), (err: NativeError) => err.code === 'ENOENT');
  });
});
