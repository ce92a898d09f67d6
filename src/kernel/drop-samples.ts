// The tracer's ring-buffer samples: single dropped packets, rate-limited in the kernel, resolved to names and
// stamped with wall-clock time, then handed to subscribers (an incident's evidence shows them as example
// packets). Samples are an extra: one that cannot be resolved or delivered is counted and logged, never thrown.
import type { Logger } from 'pino';
import type { DropSample } from '../native';
import { Listeners } from '../observe/listeners';
import type { DropSampleObservation } from '../observe/kernel';
import { toSample, type Resolvers } from './records';

/**
 * CLOCK_MONOTONIC nanoseconds → ms since the epoch. bpf_ktime_get_ns() stamps a sample with CLOCK_MONOTONIC,
 * and process.hrtime.bigint() reads the same clock (libuv's uv_hrtime): the sample's age is their difference,
 * and its wall-clock time is Date.now() less that age. Taken afresh per batch, so a step of the wall clock
 * (NTP) moves later samples with it, as it moves every other timestamp the daemon takes.
 */
export function epochMsOf(timeNs: bigint, nowMs = Date.now(), nowNs = process.hrtime.bigint()): number {
  return nowMs - Number(nowNs - timeNs) / 1e6;
}

export class DropSamples {
  private readonly listeners: Listeners<DropSampleObservation>;
  private stopped = false;

  constructor(
    private readonly resolvers: Resolvers,
    private readonly log: Logger,
    /** a subscriber threw (the others still get the batch) */
    onSubscriberError: (err: unknown) => void,
    /** a batch could not be resolved, so nobody got it */
    private readonly onLost: (err: unknown) => void,
  ) {
    this.listeners = new Listeners(onSubscriberError);
  }

  onSamples(listener: (items: DropSampleObservation[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** What the tracer hands over on the event loop; emitted once their locations are resolved. */
  take(samples: DropSample[]): void {
    const nowMs = Date.now();
    const nowNs = process.hrtime.bigint();
    // async: whatever throws, even synchronously, becomes a count and a log line, never the addon's callback's error
    const resolve = async () => {
      await this.resolvers.symbols.prepare(samples.map((s) => s.location));
      this.emit(samples.map((s) => toSample(s, epochMsOf(s.timeNs, nowMs, nowNs), this.resolvers)));
    };
    resolve().catch((err: unknown) => this.onLost(err));
  }

  /** Nothing is emitted after this, even for samples still being resolved. */
  stop(): void {
    this.stopped = true;
  }

  private emit(samples: DropSampleObservation[]): void {
    if (this.stopped) return;
    if (this.log.isLevelEnabled('debug')) {
      for (const sample of samples) this.log.debug({ sample }, `drop sample: ${sample.reasonName} at ${sample.location}`);
    }
    this.listeners.emit(samples);
  }
}
