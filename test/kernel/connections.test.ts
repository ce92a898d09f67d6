// ConnectionSource against a fake addon: conversion, drains, loss accounting, the netns scope, failures. No kernel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ConnectionSource } from '../../src/kernel/connections';
import type { NetnsFilter } from '../../src/kernel/netns-scope';
import { CONNECTION_COUNTERS, type ConnectionCounters, type ConnectionRecord, type ConnTrackerOptions, type NativeConnTracker } from '../../src/native';
import type { ConnectionObservation } from '../../src/observe/kernel';
import { EPERM_LOADING } from '../helpers/env';

const COUNTERS = Object.fromEntries(CONNECTION_COUNTERS.map((name) => [name, 0])) as ConnectionCounters;
const RECORD: ConnectionRecord = {
  netns: 7, family: 4, saddr: '10.77.0.5', daddr: '10.96.7.7', dport: 80, attempted: 4, established: 3, failed: 1,
  latencyUs: Array.from({ length: 27 }, (_, i) => (i === 7 ? 3 : 0)), latencySumUs: 600,
};

type Drained = { connections: ConnectionRecord[]; counters: ConnectionCounters; missed: number };

/** A scripted tracker: each drain() takes the next result (or error). */
class FakeTracker implements NativeConnTracker {
  results: Array<Drained | Error> = [];
  options: ConnTrackerOptions | undefined;
  startError: Error | undefined;
  gate: Promise<void> = Promise.resolve();
  stops = 0;

  async start(options: ConnTrackerOptions): Promise<{ log: string[] }> {
    this.options = options;
    await this.gate;
    if (this.startError) throw this.startError;
    return { log: [] };
  }

  async drain(): Promise<Drained> {
    const next = this.results.shift() ?? { connections: [], counters: COUNTERS, missed: 0 };
    if (next instanceof Error) throw next;
    return next;
  }

  stop(): void {
    this.stops++;
  }
}

function source(tracker: FakeTracker, scope?: NetnsFilter): ConnectionSource {
  return new ConnectionSource({
    btfPath: '/dev/null', // exists: the BTF check passes, the fake addon reads nothing
    maxKeys: 512,
    logger: pino({ level: 'silent' }),
    ...(scope && { scope }),
    native: () => ({ ConnTracker: class { constructor() { return tracker; } } as unknown as new () => NativeConnTracker }),
  });
}

test('records become observations: the destination as an address, counts and handshake slots as they are', async () => {
  const tracker = new FakeTracker();
  tracker.results.push({ connections: [RECORD], counters: { ...COUNTERS, connects: 4, connectionKeys: 1 }, missed: 0 });
  const s = source(tracker);
  const seen: ConnectionObservation[] = [];
  s.onConnections((c) => seen.push(...c));
  await s.start();
  assert.deepEqual(tracker.options, { btfPath: '/dev/null', maxKeys: 512, maxPending: 512 });
  await s.drain();
  await s.stop();
  assert.deepEqual(seen, [{
    netns: 7, family: 4, saddr: '10.77.0.5', dst: { ip: '10.96.7.7', port: 80 }, attempted: 4, established: 3, failed: 1,
    latencyUs: RECORD.latencyUs, latencySumUs: 600,
  }]);
  assert.deepEqual(s.stats(), [{ source: 'connections', up: false, reason: 'stopped', errors: 0, eventsLost: 0, rateLimited: 0 }]);
  assert.equal(tracker.stops, 1);
});

test('losses: refusals as the kernel counts them, evicted keys estimated and kept monotonic, untimed handshakes, misses', async () => {
  const tracker = new FakeTracker();
  tracker.results.push(
    { connections: [RECORD, RECORD], counters: { ...COUNTERS, connectionKeys: 5, connectionMapFull: 2, untimed: 1 }, missed: 1 },
    // 6 inserted, 3 drained: the estimate would fall to 3, it stays 3
    { connections: [RECORD], counters: { ...COUNTERS, connectionKeys: 6, connectionMapFull: 2, untimed: 4 }, missed: 3 },
  );
  const s = source(tracker);
  await s.start();
  await s.drain();
  assert.equal(s.losses().keysEvicted, 3);
  await s.drain();
  assert.deepEqual(s.losses(), { mapFull: 2, keysEvicted: 3, untimed: 4, missed: 3 });
  assert.equal(s.stats()[0]!.eventsLost, 8);
  await s.stop();
});

test('with a scope, only its namespaces\' records are emitted; the eviction estimate still counts every drained key', async () => {
  const tracker = new FakeTracker();
  tracker.results.push({ connections: [RECORD, { ...RECORD, netns: 8 }], counters: { ...COUNTERS, connectionKeys: 2 }, missed: 0 });
  const scope: NetnsFilter = { keep: async (items) => items.filter((i) => i.netns === 7), has: (n) => n === 7 };
  const s = source(tracker, scope);
  const seen: ConnectionObservation[] = [];
  s.onConnections((c) => seen.push(...c));
  await s.start();
  await s.drain();
  assert.deepEqual(seen.map((c) => c.netns), [7]);
  assert.equal(s.losses().keysEvicted, 0);
  await s.stop();
});

test('a failed drain downs the source until one works, counted; a failed start says why', async () => {
  const tracker = new FakeTracker();
  tracker.results.push(Object.assign(new Error('bpf_map_lookup_and_delete_batch: Bad file descriptor'), { code: 'EBADF', syscall: 'bpf_map_lookup_and_delete_batch' }));
  const s = source(tracker);
  await s.start();
  await s.drain();
  const [down] = s.stats();
  assert.equal(down!.up, false);
  assert.match(down!.reason, /^drain failed: EBADF /);
  assert.equal(down!.errors, 1);
  await s.drain();
  assert.deepEqual([s.stats()[0]!.up, s.stats()[0]!.reason], [true, '']);
  await s.stop();

  const refusing = new FakeTracker();
  refusing.startError = Object.assign(new Error('bpf_object__load: Operation not permitted'), { code: 'EPERM', syscall: 'bpf_object__load' });
  const r = source(refusing);
  await r.start();
  assert.match(r.stats()[0]!.reason, EPERM_LOADING);
  await r.drain(); // nothing to drain, nothing thrown
});

test('stop() during the start stops the tracker once it is loaded, and keeps nothing', async () => {
  const tracker = new FakeTracker();
  let open!: () => void;
  tracker.gate = new Promise((r) => (open = r));
  const s = source(tracker);
  const started = s.start();
  const stopped = s.stop();
  open();
  await Promise.all([started, stopped]);
  assert.equal(tracker.stops, 1);
  assert.equal(s.stats()[0]!.up, false);
});
