// DnsSource: the addon's DNS tracer as a source of observations. The node's interval asks it to drain (never two
// drains at once); each drain hands one observation per client and server to subscribers, and keeps count of what
// the kernel side could not follow. It never throws at the daemon: failures become a down status, a count and a
// log line.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { addon, DNS_COUNTERS, DNS_LATENCY_BOUNDS_US, type Addon, type DnsCounters, type DnsDrainResult, type DnsTracerOptions, type NativeDnsTracer } from '../native';
import type { DnsObservation } from '../observe/dns';
import { describeSystemError } from '../observe/errors';
import { Listeners } from '../observe/listeners';
import type { SourceStats, SourceStatus } from '../observe/source';
import { toDnsObservations } from './dns-records';
import { missingBtf } from './errors';

export interface DnsSourceOptions {
  btfPath: string;
  /** the host's cgroup mount (/sys/fs/cgroup): its cgroup v2 hierarchy is where the tracer attaches */
  cgroupMount: string;
  hook: DnsTracerOptions['hook'];
  maxQueries: number;
  maxFlows: number;
  logger: Logger;
  /** the addon, loaded only in start() */
  native?: () => Pick<Addon, 'DnsTracer'>;
}

/** Totals since start(), all monotonic: what the kernel side could not follow. */
export interface DnsLosses {
  /** queries not followed: the pending map was full */
  queriesLost: number;
  /** rows the aggregation refused, or evicted before a drain read them */
  rowsLost: number;
}

const NO_COUNTERS = Object.fromEntries(DNS_COUNTERS.map((name) => [name, 0])) as DnsCounters;

/** The cgroup v2 hierarchy under a host's cgroup mount: the mount itself (v2) or its `unified` (hybrid); '' for none. */
export function cgroup2Root(mount: string): string {
  return [mount, path.join(mount, 'unified')].find((dir) => existsSync(path.join(dir, 'cgroup.controllers'))) ?? '';
}

export class DnsSource {
  private readonly log: Logger;
  private readonly listeners: Listeners<DnsObservation>;
  private tracer: NativeDnsTracer | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private draining: Promise<void> = Promise.resolve();
  private status: SourceStatus = { source: 'dns', up: false, reason: 'starting' };
  private drainError: string | undefined;
  private errors = 0;
  private counters = NO_COUNTERS;
  private drainedRows = 0;
  private rowsEvicted = 0;

  constructor(private readonly opts: DnsSourceOptions) {
    this.log = opts.logger.child({ source: 'dns' });
    this.listeners = new Listeners((err) => this.log.error({ err }, 'a DNS subscriber failed'));
  }

  /** Each drain's observations: one per client netns, client and server. */
  onDns(listener: (items: DnsObservation[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Resolves once the tracer is attached or has failed; never rejects. */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  /** Drains now, after any drain in flight. */
  drain(): Promise<void> {
    this.draining = this.draining.then(() => this.drainOnce());
    return this.draining;
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  stats(): SourceStats[] {
    const lost = this.losses();
    const status = this.drainError ? { ...this.status, up: false, reason: `drain failed: ${this.drainError}` } : this.status;
    return [{ ...status, errors: this.errors, eventsLost: lost.queriesLost + lost.rowsLost, rateLimited: 0 }];
  }

  losses(): DnsLosses {
    return { queriesLost: this.counters.pendingFull, rowsLost: this.counters.mapFull + this.rowsEvicted };
  }

  private async startOnce(): Promise<void> {
    try {
      const noBtf = missingBtf(this.opts.btfPath);
      if (noBtf) throw new Error(noBtf);
      const tracer = new ((this.opts.native ?? addon)().DnsTracer)();
      const cgroupPath = cgroup2Root(this.opts.cgroupMount);
      const info = await tracer.start({
        btfPath: this.opts.btfPath,
        cgroupPath,
        hook: this.opts.hook,
        maxQueries: this.opts.maxQueries,
        maxFlows: this.opts.maxFlows,
      });
      for (const line of info.log) this.log.debug({ libbpf: line }, 'libbpf');
      if (this.stopping) {
        tracer.stop(); // stop() came while the programs were loading
        return;
      }
      if (info.latencyBoundsUs.join() !== DNS_LATENCY_BOUNDS_US.join()) {
        tracer.stop();
        throw new Error(`the addon's latency buckets (${info.latencyBoundsUs.join(', ')} µs) are not src/native.ts's: rebuild both`);
      }
      this.tracer = tracer;
      this.status = { source: 'dns', up: true, reason: info.missing.join('; ') };
      this.log.info({ hook: info.hook, cgroup: cgroupPath }, info.hook === 'cgroup_skb' ? `DNS followed on the sockets of cgroup ${cgroupPath} and below` : 'DNS followed on the device tracepoints');
    } catch (err) {
      this.errors++;
      this.status = { source: 'dns', up: false, reason: describeSystemError(err, 'loading the DNS tracer', 'CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN') };
    }
  }

  private async drainOnce(): Promise<void> {
    const tracer = this.tracer;
    if (!tracer) return;
    try {
      this.absorb(await tracer.drain());
    } catch (err) {
      this.errors++;
      const reason = describeSystemError(err, 'draining the DNS maps');
      if (this.drainError === undefined) this.log.warn({ err }, `DNS drains failing: ${reason}`);
      this.drainError = reason;
      return;
    }
    if (this.drainError !== undefined) this.log.info('DNS drains work again');
    this.drainError = undefined;
  }

  private absorb({ rows, counters }: DnsDrainResult): void {
    this.counters = counters;
    this.drainedRows += rows.length;
    // Every row the kernel inserted is drained once unless the LRU evicted it first. Rows inserted between the
    // map walk and the counter read make the estimate run ahead by a drain: max() keeps it monotonic.
    this.rowsEvicted = Math.max(this.rowsEvicted, counters.flows - this.drainedRows);
    this.listeners.emit(toDnsObservations(rows));
  }

  private async stopOnce(): Promise<void> {
    await this.starting;
    await this.draining;
    this.tracer?.stop();
    this.tracer = undefined;
    this.status = { ...this.status, up: false, reason: 'stopped' };
  }
}
