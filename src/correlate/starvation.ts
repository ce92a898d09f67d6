// Was a probed pod starved of CPU when its probe failed? CFS throttling holds the pod's runqueues off the CPU until
// the next period, so the throttled time is time its answer was held back. Throttled time of the order of the
// probe's timeout can explain an answer that came after it; a few periods clipped by a millisecond cannot.
// Data only: the reporters write the sentence.
import type { CpuThrottleObservation } from '../observe/cpu';

/** Throttled time, as a share of the probe's timeout, from which throttling explains a timeout. */
export const STARVED_SHARE_OF_TIMEOUT = 0.5;

export interface StarvationInput {
  /** the probe's timeout: timeoutSeconds of the pod spec (kubelet's default 1 s), in ms */
  timeoutMs: number;
  /** where the failure's cause may lie (ms since the epoch): the failure's lookback */
  window: { from: number; to: number };
  /** the probed pod's throttling observations; those whose interval overlaps the window count */
  observations: readonly CpuThrottleObservation[];
  /** default STARVED_SHARE_OF_TIMEOUT */
  starvedShareOfTimeout?: number;
}

export interface Starvation {
  starved: boolean;
  timeoutMs: number;
  /** the observations' intervals that overlap the window: how many, and the span they cover (0 and 0 when none) */
  intervals: number;
  from: number;
  to: number;
  periods: number;
  throttledPeriods: number;
  /** throttledPeriods / periods, 0..1 */
  throttledShare: number;
  throttledMs: number;
  /** throttledMs / timeoutMs: above 1, the pod was held back longer than the probe waits */
  throttledPerTimeout: number;
  usageMs: number;
  /** PSI `some` time, where the observations had it */
  pressureSomeMs?: number;
}

/**
 * Sums the overlapping intervals: an interval that straddles the window's edge counts whole, since throttling
 * comes in bursts (a probe's handler running out of quota), which spreading it evenly would hide.
 */
export function judgeStarvation(input: StarvationInput): Starvation {
  const { timeoutMs, window } = input;
  const threshold = input.starvedShareOfTimeout ?? STARVED_SHARE_OF_TIMEOUT;
  if (!(timeoutMs > 0)) throw new RangeError(`judgeStarvation: timeoutMs must be > 0, got ${timeoutMs}`);
  if (!(window.to >= window.from)) throw new RangeError(`judgeStarvation: window ends before it starts (${window.from} > ${window.to})`);
  if (!(threshold > 0)) throw new RangeError(`judgeStarvation: starvedShareOfTimeout must be > 0, got ${threshold}`);
  const s = { intervals: 0, from: Infinity, to: -Infinity, periods: 0, throttledPeriods: 0, throttledMs: 0, usageMs: 0 };
  let pressure: number | undefined;
  for (const o of input.observations) {
    if (!(o.since < window.to && o.at > window.from)) continue;
    s.intervals++;
    s.from = Math.min(s.from, o.since);
    s.to = Math.max(s.to, o.at);
    s.periods += o.periods;
    s.throttledPeriods += o.throttledPeriods;
    s.throttledMs += o.throttledMs;
    s.usageMs += o.usageMs;
    if (o.pressureSomeMs !== undefined) pressure = (pressure ?? 0) + o.pressureSomeMs;
  }
  if (s.intervals === 0) s.from = s.to = 0;
  const throttledPerTimeout = s.throttledMs / timeoutMs;
  return {
    starved: s.throttledPeriods > 0 && throttledPerTimeout >= threshold,
    timeoutMs,
    ...s,
    throttledShare: s.periods > 0 ? s.throttledPeriods / s.periods : 0,
    throttledPerTimeout,
    ...(pressure !== undefined ? { pressureSomeMs: pressure } : {}),
  };
}
