// RulesSource: kube-proxy's rules as a source. Each interval it reads the drop and reject rules (cheap; the
// reader decides when a full read is due), turns their counters into monotonic increases, and publishes the
// Services the rules describe to the ServiceIndex after every full read. Problems in the dumps are counted
// and logged once per kind; a failed read leaves the source down and the daemon running.
import type { Logger } from 'pino';
import { describeKernelError } from '../kernel/errors';
import type { SourceStats } from '../observe/types';
import type { ServiceIndex } from '../services/index';
import { viewsFromRules } from '../services/from-rules';
import type { RuleRise } from '../services/attribute';
import { RuleCounters } from './counters';
import { MissingPieces } from './missing-log';
import type { DropRule } from './model';
import { KubeProxyReader, type Detection, type ReaderOptions } from './reader';

export interface RulesSourceOptions extends ReaderOptions {
  index: ServiceIndex;
  logger: Logger;
}

export interface RulesReading {
  /** rules whose counters rose since the previous reading (none at the first) */
  rises: RuleRise[];
  /** the drop and reject rules now */
  drops: DropRule[];
  detection: Detection;
}

const SOURCE = 'kubeproxy';

export class RulesSource {
  private readonly log: Logger;
  private readonly reader: KubeProxyReader;
  private readonly counters = new RuleCounters();
  private readonly problems = new Map<string, number>();
  private readonly missing: MissingPieces;
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private detection: Detection | undefined;
  private errors = 0;

  constructor(private readonly opts: RulesSourceOptions) {
    this.log = opts.logger.child({ source: SOURCE });
    this.reader = new KubeProxyReader(opts);
    this.missing = new MissingPieces(this.log);
  }

  /** The first read: detection, the model, the first counters (which count nothing). Never rejects. */
  async start(): Promise<void> {
    await this.read();
  }

  async read(): Promise<RulesReading | undefined> {
    try {
      const r = await this.reader.read();
      if (r.full) this.opts.index.publish('rules', viewsFromRules(r.model));
      this.noteDetection(r.detection);
      for (const [kind, n] of Object.entries(r.problems)) this.noteProblem(kind, n, r.examples[kind]);
      this.missing.note(r.missing);
      const deltas = this.counters.update(r.drops);
      const rises: RuleRise[] = [];
      for (const d of r.drops) {
        const packets = deltas.get(d.key)?.packets ?? 0;
        if (packets > 0) {
          rises.push({ kind: d.kind, table: d.table, chain: d.chain, packets, ...(d.service !== undefined && { service: d.service }) });
          deltas.delete(d.key); // rules sharing a key were summed: count them once
        }
      }
      const covered = r.detection.mode === 'iptables' || r.detection.mode === 'nftables';
      this.status = { up: covered, reason: covered ? '' : r.detection.message };
      return { rises, drops: r.drops, detection: r.detection };
    } catch (err) {
      this.errors++;
      const reason = describeKernelError(err, 'reading kube-proxy rules', 'CAP_NET_ADMIN');
      if (this.status.up || this.status.reason === 'starting') this.log.warn({ err }, `kube-proxy rules unreadable: ${reason}`);
      this.status = { up: false, reason };
      return undefined;
    }
  }

  /** Dump problems since start, by kind (truncated, unknown_match, unsupported_revision, …). */
  problemCounts(): ReadonlyMap<string, number> {
    return this.problems;
  }

  /** Tables and maps the last read found missing, by kind. */
  missingPieces(): ReadonlyMap<string, number> {
    return this.missing.counts();
  }

  /** Nothing runs between reads; a read in flight finishes on its own. */
  async stop(): Promise<void> {
    this.status = { up: false, reason: 'stopped' };
  }

  stats(): SourceStats[] {
    return [{ source: SOURCE, ...this.status, errors: this.errors, eventsLost: 0, rateLimited: 0 }];
  }

  // The first detection of an uncovered mode is the start-up line's reason; changes are always told.
  private noteDetection(d: Detection): void {
    if (this.detection?.message === d.message) return;
    const first = this.detection === undefined;
    this.detection = d;
    const fields = { mode: d.mode, backend: d.backend, counts: d.counts, families: d.families };
    if (d.mode === 'iptables' || d.mode === 'nftables') this.log.info(fields, d.message);
    else if (!first) this.log.warn(fields, d.message);
  }

  private noteProblem(kind: string, n: number, example: string | undefined): void {
    const before = this.problems.get(kind);
    this.problems.set(kind, (before ?? 0) + n);
    if (before === undefined) {
      this.log.warn({ problem: kind, example }, `kube-proxy rules: ${kind}, e.g. ${example || '(no example)'}; such lines are skipped and counted from now on`);
    }
  }
}
