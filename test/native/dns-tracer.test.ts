// The addon's DnsTracer on the real kernel: lifecycle, the choice of hooks, bad input, and that stop() leaves nothing
// loaded. What it counts is test/kernel/dns-lab.test.ts's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgroup2Root } from '../../src/kernel/dns';
import { addon, DNS_COUNTERS, DNS_LATENCY_BOUNDS_US, type DnsTracerOptions, type NativeError } from '../../src/native';
import { kernelSkip, programIdsHeldBy, unloaded } from '../helpers/env';
import { alreadyStarted, notStarted, startsWhileStarting } from '../helpers/lifecycle';

const cgroupPath = cgroup2Root('/sys/fs/cgroup');
const options = (over: Partial<DnsTracerOptions> = {}): DnsTracerOptions => ({ btfPath: '', cgroupPath, hook: 'auto', maxQueries: 1024, maxFlows: 256, ...over });

test('DnsTracer on the real kernel', { skip: kernelSkip ?? (cgroupPath ? undefined : 'no cgroup v2 hierarchy under /sys/fs/cgroup') }, async (t) => {
  await t.test('auto: cgroup_skb on the cgroup v2 root here; drains; stop() unloads everything, the sweep included', async () => {
    const tracer = new (addon().DnsTracer)();
    const info = await tracer.start(options());
    assert.equal(info.hook, 'cgroup_skb');
    assert.deepEqual(info.programs, ['dns_egress', 'dns_ingress']);
    assert.deepEqual(info.missing, []);
    assert.deepEqual(info.latencyBoundsUs, DNS_LATENCY_BOUNDS_US, 'the two sides\' buckets agree');
    const ids = programIdsHeldBy(process.pid);
    assert.equal(ids.length, 3, 'two hooks and the sweep, held by this process');
    const drained = await tracer.drain();
    assert.ok(Array.isArray(drained.rows));
    assert.deepEqual(Object.keys(drained.counters), [...DNS_COUNTERS], 'the kernel\'s counters, named and ordered as TypeScript lists them');
    tracer.stop();
    tracer.stop(); // idempotent
    assert.deepEqual(programIdsHeldBy(process.pid), []);
    await unloaded(ids, 'the programs to be unloaded');
  });

  await t.test('tracepoints when asked (what a kernel without bpf_cast_to_kern_ctx gets), and again cgroup_skb after a stop', async () => {
    const tracer = new (addon().DnsTracer)();
    const info = await tracer.start(options({ hook: 'tracepoints' }));
    assert.equal(info.hook, 'tracepoints');
    assert.deepEqual(info.programs, ['dns_xmit', 'dns_receive']);
    await assert.rejects(tracer.start(options()), alreadyStarted('DnsTracer'));
    tracer.stop();
    assert.equal((await tracer.start(options())).hook, 'cgroup_skb');
    tracer.stop();
  });

  await t.test('auto without a cgroup v2 hierarchy falls back to the tracepoints and says why; cgroup_skb refuses', async () => {
    const tracer = new (addon().DnsTracer)();
    const info = await tracer.start(options({ cgroupPath: '' }));
    tracer.stop();
    assert.equal(info.hook, 'tracepoints');
    assert.match(info.missing.join(), /cgroup_skb: no cgroup v2 hierarchy to attach to: the device tracepoints serve instead/);
    await assert.rejects(tracer.start(options({ cgroupPath: '', hook: 'cgroup_skb' })), (err: NativeError) => {
      assert.equal(err.code, 'EOPNOTSUPP');
      assert.match(err.message, /cgroup_skb: no cgroup v2 hierarchy/);
      return true;
    });
    assert.deepEqual(programIdsHeldBy(process.pid), []);
  });

  await t.test('a cgroup path that is not there: ENOENT naming it, nothing stays loaded', async () => {
    const tracer = new (addon().DnsTracer)();
    await assert.rejects(tracer.start(options({ cgroupPath: '/nonexistent/cgroup' })), (err: NativeError) => {
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.syscall, 'open');
      assert.match(err.message, /\/nonexistent\/cgroup/);
      return true;
    });
    await assert.rejects(tracer.drain(), notStarted);
    assert.deepEqual(programIdsHeldBy(process.pid), []);
  });

  await t.test('a missing BTF file is a clear ENOENT error', async () => {
    const tracer = new (addon().DnsTracer)();
    await assert.rejects(tracer.start(options({ btfPath: '/nonexistent/vmlinux' })), (err: NativeError) => err.code === 'ENOENT' && /CONFIG_DEBUG_INFO_BTF/.test(err.message));
  });

  await t.test('stop() while a drain runs detaches at once and frees when the drain ends', async () => {
    const tracer = new (addon().DnsTracer)();
    await tracer.start(options());
    const ids = programIdsHeldBy(process.pid);
    const pending = tracer.drain();
    await assert.rejects(tracer.drain(), (err: NativeError) => err.code === 'EBUSY');
    tracer.stop();
    assert.ok(Array.isArray((await pending).rows));
    await unloaded(ids, 'the programs to be unloaded');
    assert.deepEqual(programIdsHeldBy(process.pid), []);
  });

  await t.test('start() while a start is under way is refused, even after stop(); nothing stays loaded', async () => {
    await startsWhileStarting('DnsTracer', new (addon().DnsTracer)(), options());
  });
});
