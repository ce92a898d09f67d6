// What every kernel source that loads a BPF object through the addon shares: its start (the BTF checked first,
// libbpf's messages at debug, a stop() that came during the load honoured) and the health of its drains (the
// first failure logged, then quiet until drains work again).
import type { Logger } from 'pino';
import { describeSystemError } from '../observe/errors';
import { missingBtf } from './errors';

export interface NativeStart<T, I> {
  /** kernel BTF; '' = the running kernel's */
  btfPath: string;
  log: Logger;
  make: () => T;
  start: (native: T) => Promise<I>;
  /** true once stop() was called */
  stopped: () => boolean;
}

/** The started object and what its start said; undefined when stop() came meanwhile (it is stopped then). Throws what the start threw. */
export async function startNative<T extends { stop(): void }, I extends { log: string[] }>(o: NativeStart<T, I>): Promise<{ native: T; info: I } | undefined> {
  const noBtf = missingBtf(o.btfPath);
  if (noBtf) throw new Error(noBtf);
  const native = o.make();
  const info = await o.start(native);
  for (const line of info.log) o.log.debug({ libbpf: line }, 'libbpf');
  if (o.stopped()) {
    native.stop();
    return undefined;
  }
  return { native, info };
}

export class DrainHealth {
  /** why the last drain failed; undefined while drains work */
  failure: string | undefined;

  constructor(private readonly log: Logger, private readonly onError: () => void) {}

  /** One drain; a failure is counted and becomes `failure`, never thrown. */
  async run(drain: () => Promise<void>): Promise<void> {
    try {
      await drain();
    } catch (err) {
      this.onError();
      const reason = describeSystemError(err, 'draining BPF maps');
      if (this.failure === undefined) this.log.warn({ err }, `drains failing: ${reason}`);
      this.failure = reason;
      return;
    }
    if (this.failure !== undefined) this.log.info('drains work again');
    this.failure = undefined;
  }
}

/**
 * A kernel source that drains a BPF object on the node's clock: start() once, drains one after another, stop()
 * once, after the start and the drain in flight.
 */
export abstract class DrainedSource {
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private draining: Promise<void> = Promise.resolve();

  /** Resolves once the object is attached or has failed; never rejects. */
  start(): Promise<void> {
    this.starting ??= this.load();
    return this.starting;
  }

  /** Drains now, after any drain in flight: what the kernel saw before the call is counted when it resolves. */
  drain(): Promise<void> {
    this.draining = this.draining.then(() => this.drainOnce());
    return this.draining;
  }

  /** Detaches the object's programs after the start and any drain in flight; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopNow();
      await this.starting;
      await this.draining;
      this.release();
    })();
    return this.stopping;
  }

  protected get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /** start()'s work: never throws (a failure becomes the source's status) */
  protected abstract load(): Promise<void>;
  /** one drain: never throws (DrainHealth) */
  protected abstract drainOnce(): Promise<void>;
  /** at stop(), before the waits: what must end at once */
  protected stopNow(): void {}
  /** after the start and the drain in flight: the native object stopped */
  protected abstract release(): void;
}
