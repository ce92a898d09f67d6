// RulesSource: kube-proxy's rules as a source. Each interval it reads the drop and reject rules (cheap; the
// reader decides when a full read is due) and says which of them fired; after every full read it hands the
// Services the rules describe to its subscribers. Problems in the dumps are counted and logged once per kind;
// a failed read leaves the source down and the daemon running.
import type { Logger } from 'pino';
import { describeSystemError } from '../observe/errors';
import { Listeners } from '../observe/listeners';
import type { ServicePort } from '../observe/objects';
import type { SourceStats } from '../observe/source';
import { MissingPieces } from './missing-log';
import { KubeProxyReader, type Detection, type ReaderOptions } from './reader';
import { RuleRises, type RuleRise } from './rises';

export interface RulesSourceOptions extends ReaderOptions {
  logger: Logger;
}

export interface RulesReading {
  /** rules whose counters rose since the previous reading (none at the first) */
  rises: RuleRise[];
  detection: Detection;
}

const SOURCE = 'kubeproxy';

export class RulesSource {
  private readonly log: Logger;
  private readonly reader: KubeProxyReader;
  private readonly rises = new RuleRises();
  private readonly services: Listeners<ServicePort[]>;
  private readonly problems = new Map<string, number>();
  private readonly missing: MissingPieces;
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private detection: Detection | undefined;
  private errors = 0;

  constructor(opts: RulesSourceOptions) {
    this.log = opts.logger.child({ source: SOURCE });
    this.reader = new KubeProxyReader(opts);
    this.missing = new MissingPieces(this.log);
    this.services = new Listeners((err) => this.log.error({ err }, 'a kube-proxy Services subscriber failed'));
  }

  /** Every Service port the rules describe, after each full read. */
  onServices(listener: (ports: ServicePort[]) => void): () => void {
    return this.services.add((lists: ServicePort[][]) => listener(lists[lists.length - 1]!));
  }

  /** The first read: detection, the model, the first counters (which count nothing). Never rejects. */
  async start(): Promise<void> {
    await this.read();
  }

  async read(): Promise<RulesReading | undefined> {
    try {
      const r = await this.reader.read();
      this.noteDetection(r.detection);
      for (const [kind, n] of Object.entries(r.problems)) this.noteProblem(kind, n, r.examples[kind]);
      this.missing.note(r.missing);
      const covered = r.detection.mode === 'iptables' || r.detection.mode === 'nftables';
      this.status = { up: covered, reason: covered ? '' : r.detection.message };
      if (r.full) this.services.emit([[...r.model.services.values()]]);
      return { rises: this.rises.update(r.drops), detection: r.detection };
    } catch (err) {
      this.errors++;
      const reason = describeSystemError(err, 'reading kube-proxy rules', 'CAP_NET_ADMIN');
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
