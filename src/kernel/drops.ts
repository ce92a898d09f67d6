// DropSource: the addon's drop tracer as a source of observations. It drains the in-kernel aggregation when
// the node's interval asks (never two drains at once), resolves names, hands observations to subscribers and
// keeps count of what the kernel side could not hand over; its samples go through kernel/drop-samples.ts. It
// never throws at the daemon: failures become a down status, a count and a log line.
import { release } from 'node:os';
import type { Logger } from 'pino';
import { addon } from '../native';
import { TRACER_COUNTERS, type Addon, type DrainResult, type NativeDropTracer, type StartInfo, type TracerCounters } from '../native';
import { Listeners } from '../observe/listeners';
import type { DropObservation, DropSampleObservation, RetransmitObservation } from '../observe/kernel';
import type { SourceStats, SourceStatus } from '../observe/source';
import { describeSystemError } from '../observe/errors';
import { readOr } from '../observe/files';
import { DropSamples } from './drop-samples';
import { Kallsyms } from './kallsyms';
import { DropReasons, reasonNamesFromBtf } from './reasons';
import { toDrop, toRetransmit, type Resolvers } from './records';
import { planMaps, type MapSizes } from './memlock';
import { DrainedSource, startNative } from './bpf-object';
import type { NetnsFilter } from './netns-scope';

export interface DropSourceOptions {
  /** kernel BTF; '' = the running kernel's (and its modules', which CO-RE needs for nf_conn) */
  btfPath: string;
  maxFlows: number;
  maxRetransmitFlows: number;
  /** 0 turns samples off */
  samplesPerSecond: number;
  ringBytes: number;
  benignReasons: readonly string[];
  /** keep benign frees, flow by flow, for a person to see (snapshot); otherwise the kernel only counts them */
  keepBenign?: boolean;
  /** this node's network namespaces; absent: every netns counts */
  scope?: NetnsFilter;
  logger: Logger;
  symbols?: Resolvers['symbols'];
  /** the addon, loaded only in start() so nothing else ever needs it built */
  native?: () => Pick<Addon, 'DropTracer'>;
}

/** Totals since start(); all monotonic. */
export interface DropLosses {
  /** ring buffer full */
  samplesLost: number;
  /** skipped by --samples-per-second */
  samplesRateLimited: number;
  /** packets not aggregated because the drops map refused an insert */
  dropMapFull: number;
  /** flows the LRU evicted before a drain read them (estimate, see absorb()) */
  dropFlowsEvicted: number;
  retransmitMapFull: number;
  retransmitFlowsEvicted: number;
}

const NO_COUNTERS = Object.fromEntries(TRACER_COUNTERS.map((name) => [name, 0])) as TracerCounters;

export class DropSource extends DrainedSource {
  private readonly resolvers: Resolvers;
  private readonly drops: Listeners<DropObservation>;
  private readonly retransmits: Listeners<RetransmitObservation>;
  private readonly samples: DropSamples;
  private tracer: NativeDropTracer | undefined;
  private statuses: SourceStatus[];
  private counters = NO_COUNTERS;
  private capacity: MapSizes | undefined;
  private drainedDropFlows = 0;
  private drainedRetransmitFlows = 0;
  private dropFlowsEvicted = 0;
  private retransmitFlowsEvicted = 0;

  constructor(private readonly opts: DropSourceOptions) {
    super(opts.logger, 'drops');
    this.resolvers = { reasons: new DropReasons(new Map(), opts.benignReasons), symbols: opts.symbols ?? new Kallsyms() };
    const onError = (err: unknown) => this.log.error({ err }, 'a drop subscriber failed');
    this.drops = new Listeners(onError);
    this.retransmits = new Listeners(onError);
    this.samples = new DropSamples(this.resolvers, this.log, onError, (err) => {
      this.errors++;
      this.log.warn({ err }, 'drop samples could not be resolved: dropped');
    });
    this.statuses = this.names().map((source) => ({ source, up: false, reason: 'starting' }));
  }

  onDrops(listener: (items: DropObservation[]) => void): () => void {
    return this.drops.add(listener);
  }

  onRetransmits(listener: (items: RetransmitObservation[]) => void): () => void {
    return this.retransmits.add(listener);
  }

  /** Single dropped packets as the kernel sampled them (at most samplesPerSecond), with wall-clock times. */
  onSamples(listener: (items: DropSampleObservation[]) => void): () => void {
    return this.samples.onSamples(listener);
  }

  stats(): SourceStats[] {
    const lost = this.losses();
    const eventsLost: Record<string, number> = {
      drops: lost.dropMapFull + lost.dropFlowsEvicted,
      drop_samples: lost.samplesLost,
      retransmits: lost.retransmitMapFull + lost.retransmitFlowsEvicted,
    };
    return this.statuses.map((s) => ({
      ...(this.drainHealth.failure ? { ...s, up: false, reason: `drain failed: ${this.drainHealth.failure}` } : s),
      errors: this.errors,
      eventsLost: eventsLost[s.source] ?? 0,
      rateLimited: s.source === 'drop_samples' ? lost.samplesRateLimited : 0,
    }));
  }

  /** The sizes the maps were loaded with (smaller than asked where the locked-memory limit said so). */
  mapSizes(): MapSizes | undefined {
    return this.capacity;
  }

  /** Segments TIME_WAIT sockets took since start(): freed with no reason named, counted apart, never drops. */
  timeWaitSegments(): number {
    return this.counters.timeWait;
  }

  losses(): DropLosses {
    const c = this.counters;
    return {
      samplesLost: c.samplesLost,
      samplesRateLimited: c.samplesLimited,
      dropMapFull: c.dropMapFull,
      dropFlowsEvicted: this.dropFlowsEvicted,
      retransmitMapFull: c.retransmitMapFull,
      retransmitFlowsEvicted: this.retransmitFlowsEvicted,
    };
  }

  private names(): string[] {
    return this.opts.samplesPerSecond > 0 ? ['drops', 'drop_samples', 'retransmits'] : ['drops', 'retransmits'];
  }

  protected async load(): Promise<void> {
    try {
      const { samplesPerSecond, scope } = this.opts;
      const { reason: downsized, ...sizes } = planMaps(this.opts, release(), readOr('/proc/self/limits'));
      this.capacity = sizes;
      const started = await startNative({
        btfPath: this.opts.btfPath,
        log: this.log,
        make: () => new ((this.opts.native ?? addon)().DropTracer)(),
        start: (tracer) => tracer.start({
          btfPath: this.opts.btfPath, ...sizes, samplesPerSecond,
          // benign frees are never loss: the daemon would only read and discard one record per closed socket
          skipReasons: this.opts.keepBenign ? [] : [...this.opts.benignReasons],
          onSamples: (samples) => this.samples.take(scope ? samples.filter((s) => scope.has(s.netns)) : samples),
        }),
        stopped: () => this.stopped,
      });
      if (!started) return;
      if (downsized) this.log.warn({ ...sizes }, downsized);
      // before the first sample or drain: both arrive on later turns of the event loop
      this.loadReasons(started.info.dropReasons);
      this.tracer = started.native;
      this.statuses = this.statusesFrom(started.info).map((s) => (s.source === 'drops' && downsized ? { ...s, reason: [s.reason, 'maps sized down to the locked-memory limit'].filter(Boolean).join('; ') } : s));
    } catch (err) {
      this.errors++;
      const reason = describeSystemError(err, 'loading BPF');
      this.statuses = this.names().map((source) => ({ source, up: false, reason }));
    }
  }

  private loadReasons(enumerators: Record<number, string>): void {
    const names = reasonNamesFromBtf(enumerators);
    if (names.size === 0) this.log.warn('this kernel\'s BTF has no enum skb_drop_reason: reasons show as reason_<n>');
    this.resolvers.reasons = new DropReasons(names, this.opts.benignReasons);
    const unknown = this.resolvers.reasons.unknownBenign();
    if (unknown.length) this.log.warn({ unknown }, `benign reasons this kernel does not know: ${unknown.join(', ')}`);
  }

  // What the kernel refused is listed in info.missing: retransmit hooks concern the retransmits stream only,
  // a ring buffer that could not be read the samples only.
  private statusesFrom(info: StartInfo): SourceStatus[] {
    const streamOf = (s: string) => (s.startsWith('tcp_retransmit') ? 'retransmits' : s.startsWith('samples:') ? 'drop_samples' : 'drops');
    const missing = (source: string) => info.missing.filter((m) => streamOf(m) === source).join('; ');
    const retransmitsUp = info.programs.some((p) => streamOf(p) === 'retransmits');
    return this.names().map((source) => {
      if (source === 'retransmits') return { source, up: retransmitsUp, reason: missing(source) || (retransmitsUp ? '' : 'no retransmit hook attached') };
      if (source === 'drop_samples') return { source, up: missing(source) === '', reason: [missing('drops'), missing(source)].filter(Boolean).join('; ') };
      return { source, up: true, reason: missing(source) };
    });
  }

  protected async drainOnce(): Promise<void> {
    const tracer = this.tracer;
    if (tracer) await this.drainHealth.run(async () => this.absorb(await tracer.drain()));
  }

  private async absorb({ drops: all, retransmits: allRetransmits, counters }: DrainResult): Promise<void> {
    this.counters = counters;
    this.drainedDropFlows += all.length;
    this.drainedRetransmitFlows += allRetransmits.length;
    // Every flow the kernel inserted is drained exactly once unless the LRU evicted it first. Flows inserted
    // between the map walk and the counter read make the estimate run ahead by a drain: max() keeps it monotonic.
    this.dropFlowsEvicted = Math.max(this.dropFlowsEvicted, counters.dropFlows - this.drainedDropFlows);
    this.retransmitFlowsEvicted = Math.max(this.retransmitFlowsEvicted, counters.retransmitFlows - this.drainedRetransmitFlows);
    const { scope } = this.opts;
    const [drops, retransmits] = scope ? await Promise.all([scope.keep(all), scope.keep(allRetransmits)]) : [all, allRetransmits];
    await this.resolvers.symbols.prepare(drops.map((r) => r.location));
    this.drops.emit(drops.map((r) => toDrop(r, this.resolvers)));
    this.retransmits.emit(retransmits.map(toRetransmit));
  }

  protected stopNow(): void {
    this.samples.stop();
  }

  protected release(): void {
    this.tracer?.stop();
    this.tracer = undefined;
    this.statuses = this.statuses.map((s) => ({ ...s, up: false, reason: 'stopped' }));
  }
}
