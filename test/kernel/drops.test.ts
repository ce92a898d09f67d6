// DropSource against a fake addon: conversion, drains, samples, loss accounting, failures. No kernel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { DropSource, type DropSourceOptions } from '../../src/kernel/drops';
import { epochMsOf } from '../../src/kernel/drop-samples';
import type { DrainResult, DropRecord, NativeDropTracer, StartInfo, TracerCounters, TracerOptions } from '../../src/native';
import { CT_DNAT, CT_PRESENT, TRACER_COUNTERS } from '../../src/native';
import type { DropObservation, DropSampleObservation } from '../../src/observe/kernel';
import { EPERM_LOADING } from '../helpers/env';

const COUNTERS = Object.fromEntries(TRACER_COUNTERS.map((name) => [name, 0])) as TracerCounters;
const DROP_REASONS = { 12: 'SKB_DROP_REASON_NETFILTER_DROP', 104: 'SKB_DROP_REASON_QUEUE_PURGE' };

const RECORD: DropRecord = {
  family: 4, proto: 6, saddr: '10.77.0.1', daddr: '10.77.4.2', sport: 40000, dport: 8080,
  netns: 7, reason: 12, location: 0x1234n, origDaddr: '10.96.7.7', origDport: 80, ct: CT_PRESENT | CT_DNAT,
  packets: 3, bytes: 180,
};

/** A scripted tracer: each drain() takes the next result (or error) and can be held open. */
class FakeTracer implements NativeDropTracer {
  results: Array<DrainResult | Error> = [];
  options: TracerOptions | undefined;
  startInfo: StartInfo = { programs: ['kfree_skb_reason', 'tcp_retransmit_skb'], missing: [], log: [], dropReasons: DROP_REASONS };
  startError: Error | undefined;
  inFlight = 0;
  maxInFlight = 0;
  stops = 0;
  gate: Promise<void> = Promise.resolve();

  async start(options: TracerOptions): Promise<StartInfo> {
    this.options = options;
    if (this.startError) throw this.startError;
    return this.startInfo;
  }

  async drain(): Promise<DrainResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await this.gate;
    this.inFlight--;
    const next = this.results.shift() ?? { drops: [], retransmits: [], counters: COUNTERS };
    if (next instanceof Error) throw next;
    return next;
  }

  stop(): void {
    this.stops++;
  }
}

function source(tracer: FakeTracer, over: Partial<DropSourceOptions> = {}): DropSource {
  return new DropSource({
    btfPath: '/dev/null', // exists: the BTF check passes, the fake addon reads nothing
    maxFlows: 1024,
    maxRetransmitFlows: 256,
    samplesPerSecond: 10,
    ringBytes: 4096,
    benignReasons: ['QUEUE_PURGE'],
    logger: pino({ level: 'silent' }),
    symbols: { prepare: async () => undefined, resolve: (a) => (a === 0x1234n ? 'nft_do_chain' : `0x${a.toString(16)}`) },
    native: () => ({
      DropTracer: class {
        constructor() {
          return tracer;
        }
      } as unknown as new () => NativeDropTracer,
    }),
    ...over,
  });
}

test('records become observations with names, symbols and conntrack flags', async () => {
  const tracer = new FakeTracer();
  tracer.results.push({
    drops: [RECORD, { ...RECORD, reason: 104, location: 0x99n, origDaddr: null, ct: 0 }],
    retransmits: [{ family: 4, proto: 6, saddr: 'a', daddr: 'b', sport: 1, dport: 2, netns: 7, state: 2, synack: false, packets: 2 }],
    counters: COUNTERS,
  });
  const s = source(tracer);
  const drops: DropObservation[] = [];
  const states: string[] = [];
  s.onDrops((d) => drops.push(...d));
  s.onRetransmits((r) => states.push(...r.map((x) => x.state)));
  await s.start();
  await s.drain();
  await s.stop();
  assert.deepEqual(drops[0], {
    tuple: { family: 4, proto: 6, saddr: '10.77.0.1', daddr: '10.77.4.2', sport: 40000, dport: 8080 },
    netns: 7, reason: 12, reasonName: 'NETFILTER_DROP', location: 'nft_do_chain',
    origDst: { ip: '10.96.7.7', port: 80 },
    ct: { present: true, confirmed: false, dnat: true, snat: false, reply: false },
    packets: 3, bytes: 180, loss: true,
  });
  assert.equal(drops[1].reasonName, 'QUEUE_PURGE');
  assert.equal(drops[1].loss, false);
  assert.equal(drops[1].origDst, null);
  assert.equal(drops[1].location, '0x99');
  assert.deepEqual(states, ['SYN_SENT']);
  assert.equal(tracer.options?.samplesPerSecond, 10);
});

test('drains never overlap, and stop() waits for the one in flight', async () => {
  const tracer = new FakeTracer();
  let open!: () => void;
  tracer.gate = new Promise((r) => (open = r));
  const s = source(tracer);
  await s.start();
  const drains = [s.drain(), s.drain(), s.drain()];
  const stopped = s.stop();
  await new Promise((r) => setImmediate(r));
  assert.equal(tracer.stops, 0, 'not stopped while a drain is in flight');
  open();
  await Promise.all([...drains, stopped]);
  assert.equal(tracer.maxInFlight, 1);
  assert.equal(tracer.stops, 1);
  await s.stop();
  assert.equal(tracer.stops, 1, 'stop() is idempotent');
});

test('losses: kernel counters as they are, evicted flows estimated and kept monotonic', async () => {
  const tracer = new FakeTracer();
  const counters = (c: Partial<TracerCounters>) => ({ ...COUNTERS, ...c });
  tracer.results.push(
    { drops: [RECORD, RECORD], retransmits: [], counters: counters({ dropFlows: 5, dropMapFull: 1, samplesLost: 2, samplesLimited: 9 }) },
    // 6 inserted, 3 drained so far: the estimate would fall to 3, but stays 3 (was 3)
    { drops: [RECORD], retransmits: [], counters: counters({ dropFlows: 6, dropMapFull: 1, samplesLost: 2, samplesLimited: 9 }) },
  );
  const s = source(tracer);
  await s.start();
  await s.drain();
  assert.equal(s.losses().dropFlowsEvicted, 3);
  await s.drain();
  assert.deepEqual(s.losses(), {
    samplesLost: 2, samplesRateLimited: 9, dropMapFull: 1, dropFlowsEvicted: 3, retransmitMapFull: 0, retransmitFlowsEvicted: 0,
  });
  const lost = Object.fromEntries(s.stats().map((x) => [x.source, [x.eventsLost, x.rateLimited]]));
  assert.deepEqual(lost, { drops: [4, 0], drop_samples: [2, 9], retransmits: [0, 0] });
  await s.stop();
});

test('a failed start is a down status with the reason, never an exception', async () => {
  const tracer = new FakeTracer();
  tracer.startError = Object.assign(new Error('bpf_object__load: Operation not permitted'), { code: 'EPERM', errno: 1, syscall: 'bpf_object__load' });
  const s = source(tracer);
  await s.start();
  for (const st of s.stats()) {
    assert.equal(st.up, false);
    // which of the two wordings depends on this process's capabilities (both in errors.test.ts)
    assert.match(st.reason, EPERM_LOADING);
    assert.equal(st.errors, 1);
  }
  await s.stop();
});

test('no BTF file: down, and the addon is never loaded', async () => {
  const s = source(new FakeTracer(), { btfPath: '/nonexistent/vmlinux', native: () => assert.fail('addon loaded') });
  await s.start();
  assert.equal(s.stats()[0].reason, 'no BTF at /nonexistent/vmlinux: check --btf-path');
});

test('a missing retransmit hook downs only the retransmits source; samples off drop their source', async () => {
  const tracer = new FakeTracer();
  tracer.startInfo = { programs: ['kfree_skb_reason'], missing: ['tcp_retransmit_skb: no such tracepoint'], log: [], dropReasons: {} };
  const s = source(tracer, { samplesPerSecond: 0 });
  await s.start();
  assert.deepEqual(
    s.stats().map(({ source: name, up, reason }) => ({ name, up, reason })),
    [
      { name: 'drops', up: true, reason: '' },
      { name: 'retransmits', up: false, reason: 'tcp_retransmit_skb: no such tracepoint' },
    ],
  );
  await s.stop();
});

test('a failing drain downs the sources until a drain works again', async () => {
  const tracer = new FakeTracer();
  tracer.results.push(Object.assign(new Error('map lookup failed'), { code: 'EINVAL' }));
  const s = source(tracer);
  await s.start();
  await s.drain();
  assert.equal(s.stats()[0].up, false);
  assert.equal(s.stats()[0].reason, 'drain failed: EINVAL map lookup failed');
  assert.equal(s.stats()[0].errors, 1);
  await s.drain();
  assert.equal(s.stats()[0].up, true);
  await s.stop();
});

test('a ring buffer the tracer could not read downs only the samples source', async () => {
  const tracer = new FakeTracer();
  tracer.startInfo = { ...tracer.startInfo, missing: ['samples: ring_buffer__new: Cannot allocate memory'] };
  const s = source(tracer);
  await s.start();
  assert.deepEqual(
    s.stats().map(({ source: name, up, reason }) => ({ name, up, reason })),
    [
      { name: 'drops', up: true, reason: '' },
      { name: 'drop_samples', up: false, reason: 'samples: ring_buffer__new: Cannot allocate memory' },
      { name: 'retransmits', up: true, reason: '' },
    ],
  );
  await s.stop();
});

const { packets: _p, bytes: _b, ...SAMPLE_KEY } = RECORD;

test('samples are resolved, stamped with wall-clock time and emitted; none after stop()', async () => {
  const tracer = new FakeTracer();
  const s = source(tracer);
  const seen: DropSampleObservation[] = [];
  s.onSamples((items) => seen.push(...items));
  await s.start();
  const nowNs = process.hrtime.bigint();
  const before = Date.now();
  tracer.options!.onSamples([nowNs - 2_000_000_000n, nowNs - 1_000_000_000n].map((timeNs) => ({ ...SAMPLE_KEY, timeNs, len: 60, ifindex: 2 })));
  const after = Date.now();
  await new Promise((r) => setImmediate(r)); // samples wait for their locations to be resolved
  assert.deepEqual(seen.map((x) => [x.reasonName, x.location, x.len, x.ifindex]), [
    ['NETFILTER_DROP', 'nft_do_chain', 60, 2],
    ['NETFILTER_DROP', 'nft_do_chain', 60, 2],
  ]);
  // taken 2 s and 1 s before the monotonic reading, which lies between the two wall-clock readings
  assert.ok(seen[0]!.at >= before - 2001 && seen[0]!.at <= after - 1999, `${seen[0]!.at} vs ${before}..${after}`);
  assert.ok(seen[1]!.at >= before - 1001 && seen[1]!.at <= after - 999, `${seen[1]!.at} vs ${before}..${after}`);
  const stopped = s.stop();
  tracer.options!.onSamples([{ ...SAMPLE_KEY, timeNs: nowNs, len: 60, ifindex: 2 }]);
  await stopped;
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 2);
});

test('epochMsOf: a monotonic stamp becomes ms since the epoch through the age it has now', () => {
  assert.equal(epochMsOf(5_000_000_000n, 1_700_000_010_000, 15_000_000_000n), 1_700_000_000_000);
  assert.equal(epochMsOf(14_999_500_000n, 1_700_000_010_000, 15_000_000_000n), 1_700_000_009_999.5);
});

test('samples whose locations cannot be resolved are counted and logged, never thrown', async () => {
  const tracer = new FakeTracer();
  let calls = 0;
  const prepare = () => {
    if (++calls === 1) throw new TypeError('a resolver that throws at once');
    return Promise.reject(new Error('kallsyms went away'));
  };
  const s = source(tracer, { symbols: { prepare, resolve: (a) => `0x${a.toString(16)}` } });
  const seen: DropSampleObservation[] = [];
  s.onSamples((items) => seen.push(...items));
  await s.start();
  tracer.options!.onSamples([{ ...SAMPLE_KEY, timeNs: 1n, len: 60, ifindex: 2 }]);
  tracer.options!.onSamples([{ ...SAMPLE_KEY, timeNs: 2n, len: 60, ifindex: 2 }]);
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 0);
  assert.equal(s.stats()[0]!.errors, 2);
  assert.equal(s.stats()[0]!.up, true);
  await s.stop();
});
