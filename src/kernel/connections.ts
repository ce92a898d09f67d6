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
import { DrainedSource, DrainHealth, startNative } from './bpf-object';
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
  /** state changes the kernel skipped: the program was already running on that CPU */
  missed: number;
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

export class ConnectionSource extends DrainedSource {
  private readonly log: Logger;
  private readonly listeners: Listeners<ConnectionObservation>;
  private tracker: NativeConnTracker | undefined;
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private readonly drainHealth: DrainHealth;
  private errors = 0;
  private counters = NO_COUNTERS;
  private missed = 0;
  private drainedKeys = 0;
  private keysEvicted = 0;

  constructor(private readonly opts: ConnectionSourceOptions) {
    super();
    this.log = opts.logger.child({ source: 'connections' });
    this.listeners = new Listeners((err) => this.log.error({ err }, 'a connection subscriber failed'));
    this.drainHealth = new DrainHealth(this.log, () => this.errors++);
  }

  onConnections(listener: (items: ConnectionObservation[]) => void): () => void {
    return this.listeners.add(listener);
  }

  losses(): ConnectionLosses {
    return { mapFull: this.counters.connectionMapFull, keysEvicted: this.keysEvicted, untimed: this.counters.untimed, missed: this.missed };
  }

  stats(): SourceStats[] {
    const { failure } = this.drainHealth;
    const status = failure ? { up: false, reason: `drain failed: ${failure}` } : this.status;
    const lost = this.counters.connectionMapFull + this.keysEvicted + this.missed;
    return [{ source: 'connections', ...status, errors: this.errors, eventsLost: lost, rateLimited: 0 }];
  }

  protected async load(): Promise<void> {
    try {
      const { btfPath, maxKeys } = this.opts;
      const started = await startNative({
        btfPath,
        log: this.log,
        make: () => new ((this.opts.native ?? addon)().ConnTracker)(),
        start: (tracker) => tracker.start({ btfPath, maxKeys, maxPending: maxKeys }),
        stopped: () => this.stopped,
      });
      if (!started) return;
      this.tracker = started.native;
      this.status = { up: true, reason: '' };
    } catch (err) {
      this.errors++;
      this.status = { up: false, reason: describeSystemError(err, 'loading BPF') };
    }
  }

  protected async drainOnce(): Promise<void> {
    const tracker = this.tracker;
    if (!tracker) return;
    await this.drainHealth.run(async () => {
      const { connections, counters, missed } = await tracker.drain();
      this.counters = counters;
      this.missed = missed;
      this.drainedKeys += connections.length;
      // as DropSource's: keys inserted between the walk and the counter read run the estimate ahead by a drain
      this.keysEvicted = Math.max(this.keysEvicted, counters.connectionKeys - this.drainedKeys);
      const kept = this.opts.scope ? await this.opts.scope.keep(connections) : connections;
      this.listeners.emit(kept.map(toConnection));
    });
  }

  protected release(): void {
    this.tracker?.stop();
    this.tracker = undefined;
    this.status = { up: false, reason: 'stopped' };
  }
}
