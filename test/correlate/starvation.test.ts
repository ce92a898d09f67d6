// judgeStarvation: which observations count for a window, the figures a message needs, and where starvation starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeStarvation, STARVED_SHARE_OF_TIMEOUT } from '../../src/correlate/starvation';
import type { CpuThrottleObservation } from '../../src/observe/cpu';

const T = 1_700_000_000_000;

function obs(since: number, at: number, f: Partial<CpuThrottleObservation> = {}): CpuThrottleObservation {
  return {
    at: T + at, since: T + since, pod: { namespace: 'shop', name: 'web-0' }, uid: 'u', throttledIn: 'pod',
    periods: 50, throttledPeriods: 40, throttledMs: 900, usageMs: 500, containers: [], ...f,
  };
}

const window = { from: T + 10_000, to: T + 21_000 }; // a failure at +21 s, timeout 1 s + period 10 s before it

test('a pod held back longer than the probe waits was starved; the figures for the message', () => {
  const s = judgeStarvation({
    timeoutMs: 1000,
    window,
    observations: [
      obs(0, 5_000, { throttledMs: 7_000 }), // before the window: not counted
      obs(5_000, 15_000, { periods: 100, throttledPeriods: 30, throttledMs: 600, usageMs: 1_000, pressureSomeMs: 200 }),
      obs(15_000, 25_000, { periods: 100, throttledPeriods: 50, throttledMs: 700, usageMs: 1_000 }), // straddles the end: counted whole
      obs(25_000, 35_000, { throttledMs: 9_000 }), // after it
    ],
  });
  assert.deepEqual(s, {
    starved: true, timeoutMs: 1000, intervals: 2, from: T + 5_000, to: T + 25_000,
    periods: 200, throttledPeriods: 80, throttledShare: 0.4, throttledMs: 1_300, throttledPerTimeout: 1.3, usageMs: 2_000, pressureSomeMs: 200,
  });
});

test('throttling well short of the timeout, or none in the window, is no starvation', () => {
  const short = judgeStarvation({ timeoutMs: 5_000, window, observations: [obs(12_000, 20_000, { throttledPeriods: 3, throttledMs: 12 })] });
  assert.equal(short.starved, false);
  assert.equal(short.throttledPerTimeout, 12 / 5_000);
  assert.equal(short.throttledShare, 3 / 50);
  const none = judgeStarvation({ timeoutMs: 1000, window, observations: [obs(0, 10_000)] });
  assert.deepEqual(none, {
    starved: false, timeoutMs: 1000, intervals: 0, from: 0, to: 0, periods: 0, throttledPeriods: 0,
    throttledShare: 0, throttledMs: 0, throttledPerTimeout: 0, usageMs: 0,
  });
});

test('the threshold: half the timeout by default, or the caller\'s', () => {
  const at = (ms: number, share?: number) => judgeStarvation({
    timeoutMs: 2_000, window, observations: [obs(12_000, 20_000, { throttledMs: ms })], ...(share ? { starvedShareOfTimeout: share } : {}),
  }).starved;
  assert.equal(STARVED_SHARE_OF_TIMEOUT, 0.5);
  assert.equal(at(999), false);
  assert.equal(at(1_000), true);
  assert.equal(at(1_000, 0.8), false);
  assert.equal(at(1_600, 0.8), true);
});

test('bad input is refused with a reason', () => {
  assert.throws(() => judgeStarvation({ timeoutMs: 0, window, observations: [] }), /timeoutMs must be > 0/);
  assert.throws(() => judgeStarvation({ timeoutMs: 1000, window: { from: 2, to: 1 }, observations: [] }), /window ends before it starts/);
  assert.throws(() => judgeStarvation({ timeoutMs: 1000, window, observations: [], starvedShareOfTimeout: -1 }), /starvedShareOfTimeout/);
});
