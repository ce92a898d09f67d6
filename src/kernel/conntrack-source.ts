// ConntrackSource: the node's conntrack table as a source. Each interval: the per-CPU stats (their deltas
// witness table-full, INVALID and insert failures at the drops of the same interval), entry count and limit;
// every few intervals, the flows still waiting for a reply, found by a dump the kernel filters (it copies out
// only UNREPLIED entries), and those of the last dump that died unanswered since. It never throws at the daemon.
import type { Logger } from 'pino';
import type { SourceStats } from '../observe/source';
import { readConntrackStats, unrepliedFlows, type ConntrackGroup } from './conntrack';
import { CounterDeltas } from '../observe/deltas';
import { describeSystemError } from '../observe/errors';

export interface ConntrackSourceOptions {
  /** a name under /run/netns, or absent for the daemon's own netns (the node's) */
  netns?: string;
  /** read the UNREPLIED flows (and so the deaths) at most this often; 0 = never */
  unrepliedIntervalMs: number;
  logger: Logger;
}

export interface ConntrackReading {
  /** kernel totals (summed over CPUs), monotonic for the life of the netns */
  counters: Record<string, number>;
  /** the counters that rose since the previous reading, by how much; none at the first */
  deltas: Record<string, number>;
  entries: number;
  max: number;
  /** flows waiting for a reply, by original destination: present when this reading dumped them */
  unreplied?: ConntrackGroup[];
  /** flows whose timeout ran out without a reply since the previous dump, by original destination; [] between dumps */
  diedUnreplied: ConntrackGroup[];
}

const SOURCE = 'conntrack';

export class ConntrackSource {
  private readonly log: Logger;
  private readonly unreplied: ReturnType<typeof unrepliedFlows>;
  private readonly deltas = new CounterDeltas();
  private lastDump = -Infinity;
  private latest: ConntrackReading | undefined;
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private errors = 0;
  private eventsLost = 0;
  private stopped = false;

  constructor(private readonly opts: ConntrackSourceOptions) {
    this.log = opts.logger.child({ source: SOURCE });
    this.unreplied = unrepliedFlows({ ...(opts.netns !== undefined && { netns: opts.netns }) });
  }

  /** Never rejects: a failure leaves the source down with the reason. */
  async start(): Promise<void> {
    try {
      await readConntrackStats(this.opts.netns);
      this.status = { up: true, reason: '' };
    } catch (err) {
      this.fail(err, 'reading conntrack stats');
    }
  }

  /** One interval's reading; undefined when the table could not be read (counted, logged once per outage). */
  async read(now = Date.now()): Promise<ConntrackReading | undefined> {
    if (this.stopped || (!this.status.up && this.status.reason === 'starting')) return undefined;
    try {
      const stats = await readConntrackStats(this.opts.netns);
      // the totals only rise; a drop means the netns (and its table) was re-created: count from zero
      const deltas = Object.fromEntries(this.deltas.update(Object.entries(stats.counters)));
      const reading: ConntrackReading = { counters: stats.counters, deltas, entries: stats.entries, max: stats.max, diedUnreplied: [] };
      if (this.opts.unrepliedIntervalMs > 0 && now - this.lastDump >= this.opts.unrepliedIntervalMs) {
        this.lastDump = now;
        const { waiting, died, unfollowed } = await this.unreplied.dump();
        reading.unreplied = waiting;
        reading.diedUnreplied = died;
        this.eventsLost += unfollowed;
      }
      if (!this.status.up) this.log.info('conntrack readable again');
      this.status = { up: true, reason: '' };
      this.latest = reading;
      return reading;
    } catch (err) {
      this.fail(err, 'reading conntrack');
      return undefined;
    }
  }

  /** The last good reading, for scrape-time gauges. */
  current(): ConntrackReading | undefined {
    return this.latest;
  }

  stats(): SourceStats[] {
    return [{ source: SOURCE, ...this.status, errors: this.errors, eventsLost: this.eventsLost, rateLimited: 0 }];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.status = { up: false, reason: 'stopped' };
  }

  private fail(err: unknown, doing: string): void {
    this.errors++;
    const reason = describeSystemError(err, doing, 'CAP_NET_ADMIN');
    if (this.status.up || this.status.reason === 'starting') this.log.warn({ err }, `conntrack source down: ${reason}`);
    this.status = { up: false, reason };
  }
}
