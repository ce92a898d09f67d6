// ConntrackSource: the node's conntrack table as a source. Each interval: the per-CPU stats (their deltas
// witness table-full, INVALID and insert failures at the drops of the same interval), entry count and limit,
// and the flows that died unanswered; every few intervals, the flows still waiting for a reply, found by a
// dump the kernel filters (it copies out only UNREPLIED entries). It never throws at the daemon.
import type { Logger } from 'pino';
import type { SourceStats } from '../observe/source';
import {
  aggregateConntrack, readConntrackStats, UNREPLIED, watchConntrackDeaths, type ConntrackDeathWatch, type ConntrackGroup,
} from './conntrack';
import { CounterDeltas } from '../observe/deltas';
import { describeSystemError } from '../observe/errors';

export interface ConntrackSourceOptions {
  /** a name under /run/netns, or absent for the daemon's own netns (the node's) */
  netns?: string;
  /** read the UNREPLIED flows at most this often; 0 = never */
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
  /** flows destroyed without a reply since the previous reading, by original destination */
  diedUnreplied: ConntrackGroup[];
}

const SOURCE = 'conntrack';

export class ConntrackSource {
  private readonly log: Logger;
  private deaths: ConntrackDeathWatch | undefined;
  private readonly deltas = new CounterDeltas();
  private lastDump = -Infinity;
  private latest: ConntrackReading | undefined;
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private errors = 0;
  private eventsLost = 0;
  private stopped = false;

  constructor(private readonly opts: ConntrackSourceOptions) {
    this.log = opts.logger.child({ source: SOURCE });
  }

  /** Never rejects: a failure leaves the source down with the reason. */
  async start(): Promise<void> {
    try {
      await readConntrackStats(this.opts.netns);
      this.status = { up: true, reason: '' };
    } catch (err) {
      this.fail(err, 'reading conntrack stats');
      return;
    }
    try {
      const deaths = await watchConntrackDeaths({ netns: this.opts.netns });
      if (this.stopped) deaths.stop();
      else this.deaths = deaths;
    } catch (err) {
      this.errors++;
      this.status = { up: true, reason: `no DESTROY events (${describeSystemError(err, 'joining conntrack events', 'CAP_NET_ADMIN')}): flows that die unanswered go uncounted` };
    }
  }

  /** One interval's reading; undefined when the table could not be read (counted, logged once per outage). */
  async read(now = Date.now()): Promise<ConntrackReading | undefined> {
    if (this.stopped || (!this.status.up && this.status.reason === 'starting')) return undefined;
    try {
      const stats = await readConntrackStats(this.opts.netns);
      // the totals only rise; a drop means the netns (and its table) was re-created: count from zero
      const deltas = Object.fromEntries(this.deltas.update(Object.entries(stats.counters)));
      const reading: ConntrackReading = { counters: stats.counters, deltas, entries: stats.entries, max: stats.max, diedUnreplied: this.drainDeaths() };
      if (this.opts.unrepliedIntervalMs > 0 && now - this.lastDump >= this.opts.unrepliedIntervalMs) {
        this.lastDump = now;
        reading.unreplied = await aggregateConntrack({ netns: this.opts.netns, status: UNREPLIED });
      }
      if (!this.status.up) this.log.info('conntrack readable again');
      this.status = { up: true, reason: this.deaths ? '' : this.status.reason };
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
    this.deaths?.stop();
    this.deaths = undefined;
    this.status = { up: false, reason: 'stopped' };
  }

  private drainDeaths(): ConntrackGroup[] {
    if (!this.deaths) return [];
    const { groups, overflows } = this.deaths.drain();
    if (overflows > 0) this.eventsLost += overflows;
    return groups;
  }

  private fail(err: unknown, doing: string): void {
    this.errors++;
    const reason = describeSystemError(err, doing, 'CAP_NET_ADMIN');
    if (this.status.up || this.status.reason === 'starting') this.log.warn({ err }, `conntrack source down: ${reason}`);
    this.status = { up: false, reason };
  }
}
