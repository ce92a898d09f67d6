// A source read every interval, never two reads at once (Periodic): it hands its observations to subscribers and
// says when each read is over, failed or not, so that a judgement waiting for evidence up to a time knows when it
// has all there will be.
import type { Logger } from 'pino';
import { Listeners } from './listeners';
import type { Listener } from './source';
import { Periodic } from './periodic';

export interface PolledOptions {
  intervalMs: number;
  logger: Logger;
}

export abstract class PolledSource<T> {
  protected readonly log: Logger;
  protected readonly periodic: Periodic;
  protected errors = 0;
  private readonly listeners: Listeners<T>;
  private readonly readListeners: ((at: number) => void)[] = [];

  /** `source` names it in logs and stats(), `what` in sentences ("a <what> read failed"). */
  constructor(opts: PolledOptions, source: string, private readonly what: string) {
    this.log = opts.logger.child({ source });
    this.periodic = new Periodic(opts.intervalMs, () => this.readAndTell(), what, (err) => {
      this.errors++;
      this.log.error({ err }, `a ${what} read failed unexpectedly`);
    });
    this.listeners = new Listeners((err) => this.log.error({ err }, `a ${what} subscriber failed`));
  }

  onObservations(listener: Listener<T>): () => void {
    return this.listeners.add(listener);
  }

  /** After every read, with its time (ms since the epoch), observations or none: evidence is complete up to then. */
  onRead(listener: (at: number) => void): void {
    this.readListeners.push(listener);
  }

  /** The first read primes the counters; resolves after it; never rejects. */
  start(): Promise<void> {
    return this.periodic.start();
  }

  /** Reads now, after any read in flight. */
  read(): Promise<void> {
    return this.periodic.now();
  }

  /** A read that covers `at` (ms since the epoch): a round of failures costs a read or two, not one each. */
  readBy(at: number): void {
    this.periodic.by(at);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One read; turns its own failures into status, and hands what it found to emit(). */
  protected abstract readOnce(): Promise<void>;

  protected emit(items: T[]): void {
    this.listeners.emit(items);
  }

  private async readAndTell(): Promise<void> {
    try {
      await this.readOnce();
    } finally {
      // a read that failed covers its time too: nothing more will come for it, and judgements must not wait
      const at = Date.now();
      for (const fn of this.readListeners) {
        try {
          fn(at);
        } catch (err) {
          this.log.error({ err }, `a ${this.what} subscriber failed`);
        }
      }
    }
  }
}
