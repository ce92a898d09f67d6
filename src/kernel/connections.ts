// ConnectionSource: the addon's connection tracker as a source of observations. It drains the in-kernel
// aggregation (TCP connects by client address × destination) when the node's interval asks, never two drains
// at once, and keeps count of what the kernel side could not hand over. It never throws at the daemon: failures
// become a down status, a count and a log line.
import type { Logger } from 'pino';
import { addon, CONNECTION_COUNTERS, type Addon, type ConnectionCounters, type ConnectionRecord, type NativeConnTracker } from '../native';
import { Listeners } from '../observe/listeners';
import type { ConnectionObservation } from '../observe/kernel';
import type { SourceStats } from '../observe/source';
import { describeSystemError } from '../observe/errors';
import { missingBtf } from './errors';
import type { NetnsFilter } from './netns-scope';

export interface ConnectionSourceOptions {
  /** kernel BTF; '' = the running kernel's */
  btfPath: string;
  /** capacity of the in-kernel aggregation (LRU) and of the per-socket SYN times */
  maxKeys: number;
  /** this node's network namespaces; absent: every netns counts */
  scope?: NetnsFilter;
  logger: Logger;
  /** the addon, loaded only in start() */
  native?: () => Pick<Addon, 'ConnTracker'>;
}

/** Totals since start(); all monotonic. */
export interface ConnectionLosses {
  /** state changes not counted because the map refused an insert */
  mapFull: number;
  /** keys the LRU evicted before a drain read them (estimate, as DropSource's) */
  keysEvicted: number;
  /** handshakes that ended without their start: begun before the tracker, or their SYN time evicted; no latency */
  untimed: number;
}

const NO_COUNTERS = Object.fromEntries(CONNECTION_COUNTERS.map((name) => [name, 0])) as ConnectionCounters;

function toConnection(r: ConnectionRecord): ConnectionObservation {
  return {
    netns: r.netns,
    family: r.family,
    saddr: r.saddr,
    dst: { ip: r.daddr, port: r.dport },
    attempted: r.attempted,
    established: r.established,
    failed: r.failed,
    latencyUs: r.latencyUs,
    latencySumUs: r.latencySumUs,
  };
}

export class ConnectionSource {
  private readonly log: Logger;
  private readonly listeners: Listeners<ConnectionObservation>;
  private tracker: NativeConnTracker | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private draining: Promise<void> = Promise.resolve();
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private drainError: string | undefined;
  private errors = 0;
  private counters = NO_COUNTERS;
  private drainedKeys = 0;
  private keysEvicted = 0;

  constructor(private readonly opts: ConnectionSourceOptions) {
    this.log = opts.logger.child({ source: 'connections' });
    this.listeners = new Listeners((err) => this.log.error({ err }, 'a connection subscriber failed'));
  }

  onConnections(listener: (items: ConnectionObservation[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Resolves once the tracker is attached or has failed; never rejects. */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  /** Drains now, after any drain in flight: the connects before the call are counted when it resolves. */
  drain(): Promise<void> {
    this.draining = this.draining.then(() => this.drainOnce());
    return this.draining;
  }

  /** Detaches the program (after a drain in flight settles); idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  losses(): ConnectionLosses {
    return { mapFull: this.counters.connectionMapFull, keysEvicted: this.keysEvicted, untimed: this.counters.untimed };
  }

  stats(): SourceStats[] {
    const status = this.drainError ? { up: false, reason: `drain failed: ${this.drainError}` } : this.status;
    return [{ source: 'connections', ...status, errors: this.errors, eventsLost: this.counters.connectionMapFull + this.keysEvicted, rateLimited: 0 }];
  }

  private async startOnce(): Promise<void> {
    try {
      const noBtf = missingBtf(this.opts.btfPath);
      if (noBtf) throw new Error(noBtf);
      const tracker = new ((this.opts.native ?? addon)().ConnTracker)();
      const info = await tracker.start({ btfPath: this.opts.btfPath, maxKeys: this.opts.maxKeys, maxPending: this.opts.maxKeys });
      for (const line of info.log) this.log.debug({ libbpf: line }, 'libbpf');
      if (this.stopping) {
        tracker.stop(); // stop() came while the program was loading
        return;
      }
      this.tracker = tracker;
      this.status = { up: true, reason: '' };
    } catch (err) {
      this.errors++;
      this.status = { up: false, reason: describeSystemError(err, 'loading BPF') };
    }
  }

  private async drainOnce(): Promise<void> {
    const tracker = this.tracker;
    if (!tracker) return;
    try {
      const { connections, counters } = await tracker.drain();
      this.counters = counters;
      this.drainedKeys += connections.length;
      // as DropSource's: keys inserted between the walk and the counter read run the estimate ahead by a drain
      this.keysEvicted = Math.max(this.keysEvicted, counters.connectionKeys - this.drainedKeys);
      const kept = this.opts.scope ? await this.opts.scope.keep(connections) : connections;
      this.listeners.emit(kept.map(toConnection));
    } catch (err) {
      this.errors++;
      const reason = describeSystemError(err, 'draining BPF maps');
      if (this.drainError === undefined) this.log.warn({ err }, `drains failing: ${reason}`);
      this.drainError = reason;
      return;
    }
    if (this.drainError !== undefined) this.log.info('drains work again');
    this.drainError = undefined;
  }

  private async stopOnce(): Promise<void> {
    await this.starting;
    await this.draining;
    this.tracker?.stop();
    this.tracker = undefined;
    this.status = { up: false, reason: 'stopped' };
  }
}
