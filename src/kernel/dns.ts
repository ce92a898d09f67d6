// DnsSource: the addon's DNS tracer as a source of observations. The node's interval asks it to drain (never two
// drains at once, as every DrainedSource); each drain hands one observation per client and server of this node's
// network namespaces to subscribers, and keeps count of what the kernel side could not follow. It never throws at
// the daemon: failures become a down status, a count and a log line.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { addon, DNS_COUNTERS, DNS_LATENCY_BOUNDS_US, type Addon, type DnsCounters, type DnsTracerOptions, type NativeDnsTracer } from '../native';
import type { DnsObservation } from '../observe/dns';
import { describeSystemError } from '../observe/errors';
import { Listeners } from '../observe/listeners';
import type { SourceStats, SourceStatus } from '../observe/source';
import { toDnsObservations } from './dns-records';
import { DrainedSource, startNative } from './bpf-object';
import type { NetnsFilter } from './netns-scope';

export interface DnsSourceOptions {
  btfPath: string;
  /** the host's cgroup mount (/sys/fs/cgroup): its cgroup v2 hierarchy is where the tracer attaches */
  cgroupMount: string;
  hook: DnsTracerOptions['hook'];
  maxQueries: number;
  maxFlows: number;
  /** this node's network namespaces; absent: every netns counts */
  scope?: NetnsFilter;
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

export class DnsSource extends DrainedSource {
  private readonly listeners: Listeners<DnsObservation>;
  private tracer: NativeDnsTracer | undefined;
  private status: SourceStatus = { source: 'dns', up: false, reason: 'starting' };
  private counters = NO_COUNTERS;
  private drainedRows = 0;
  private rowsEvicted = 0;

  constructor(private readonly opts: DnsSourceOptions) {
    super(opts.logger, 'dns');
    this.listeners = new Listeners((err) => this.log.error({ err }, 'a DNS subscriber failed'));
  }

  /** Each drain's observations: one per client netns, client and server. */
  onDns(listener: (items: DnsObservation[]) => void): () => void {
    return this.listeners.add(listener);
  }

  stats(): SourceStats[] {
    const lost = this.losses();
    const { failure } = this.drainHealth;
    const status = failure ? { ...this.status, up: false, reason: `drain failed: ${failure}` } : this.status;
    return [{ ...status, errors: this.errors, eventsLost: lost.queriesLost + lost.rowsLost, rateLimited: 0 }];
  }

  losses(): DnsLosses {
    return { queriesLost: this.counters.pendingFull, rowsLost: this.counters.mapFull + this.rowsEvicted };
  }

  protected async load(): Promise<void> {
    try {
      const { btfPath, hook, maxQueries, maxFlows } = this.opts;
      const cgroupPath = cgroup2Root(this.opts.cgroupMount);
      const started = await startNative({
        btfPath,
        log: this.log,
        make: () => new ((this.opts.native ?? addon)().DnsTracer)(),
        start: (tracer) => tracer.start({ btfPath, cgroupPath, hook, maxQueries, maxFlows }),
        stopped: () => this.stopped,
      });
      if (!started) return;
      const { native: tracer, info } = started;
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

  protected async drainOnce(): Promise<void> {
    const tracer = this.tracer;
    if (!tracer) return;
    await this.drainHealth.run(async () => {
      const { rows, counters } = await tracer.drain();
      this.counters = counters;
      this.drainedRows += rows.length;
      // Every row the kernel inserted is drained once unless the LRU evicted it first. Rows inserted between the
      // map walk and the counter read make the estimate run ahead by a drain: max() keeps it monotonic.
      this.rowsEvicted = Math.max(this.rowsEvicted, counters.flows - this.drainedRows);
      const kept = this.opts.scope ? await this.opts.scope.keep(rows) : rows;
      this.listeners.emit(toDnsObservations(kept));
    });
  }

  protected release(): void {
    this.tracer?.stop();
    this.tracer = undefined;
    this.status = { ...this.status, up: false, reason: 'stopped' };
  }
}
