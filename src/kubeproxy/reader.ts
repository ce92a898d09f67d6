// Reads kube-proxy's rules from the node in whichever form they are: iptables (nft or legacy backend),
// nftables mode, or IPVS mode (detected, not covered). One read at a time: concurrent callers share it.
//
// Which read when: a full read (iptables-save, the legacy tables from the kernel, or nftables mode's table) is
// costly at scale, the per-interval read of the drop and reject rules is not (the legacy filter table alone from
// the kernel; `nft -j list table ip filter` for the nft backend, since `iptables-nft-save -t filter` fetches the
// whole ruleset; nftables mode's verdict maps). Costs are in bench/RESULTS.md (rules). nft 1.0.6 gives no
// generation number without loading every table, so the per-interval read doubles as the change detector:
// kube-proxy rewrites its filter chains on every sync (rule handles with the nft backend; the rules' text without
// counters with legacy, where a nat-only change such as a moved endpoint waits for the slow interval; the verdict
// maps' elements in nftables mode). A change brings a full read, spaced so that full reads take at most 5% of the
// time.
import { run } from './command';
import {
  readIptablesDump, readLegacyFilter, readNftDropMaps, readNftFilter, readNftTable, type Backend, type DumpOptions,
  type IptablesDump,
} from './dumps';
import { IptablesModelBuilder } from './iptables-model';
import type { MissingPiece } from './missing';
import type { Problems } from './rule';
import { ModelSink, type DropRule, type Family, type RulesModel } from './model';
import type { FilterReading } from './nft-filter';
import { NftModelBuilder } from './nft-json';

export type Mode = 'iptables' | 'nftables' | 'ipvs' | 'none';

export interface Detection {
  mode: Mode;
  /** iptables mode: the backend holding kube-proxy's rules */
  backend?: Backend;
  /** iptables and none: lines naming KUBE- chains per backend, IPv4 and IPv6, as kube-proxy's wrapper counts */
  counts?: Record<Backend, number>;
  families: Family[];
  /** one sentence for the start-up log */
  message: string;
}

export interface Reading {
  detection: Detection;
  /** from the last full read */
  model: RulesModel;
  /** drop and reject rules as of this read, with counters (none in nftables mode) */
  drops: DropRule[];
  /** this read re-read everything */
  full: boolean;
  /** this read's problems by kind (the full read's too when it was one), for one log line per kind */
  problems: Problems;
  examples: Record<string, string>;
  /** tables and maps this read looked for and the node does not have: skipped, the rest read */
  missing: MissingPiece[];
  durationMs: number;
}

export interface ReaderOptions extends DumpOptions {
  /** re-read everything at least this often; default 5 minutes */
  fullIntervalMs?: number;
  /** and, after a change, no sooner than this; default 10 s (and never more than 5% of the time) */
  minFullIntervalMs?: number;
  now?: () => number;
}

const IPVS_MESSAGE = 'kube-proxy runs in IPVS mode, which flapwatch does not cover: IPVS virtual servers carry no Service names, '
  + 'so no kube-proxy rules or counters are read on this node (kernel drops are still traced)';

export class KubeProxyReader {
  private inflight: Promise<Reading> | null = null;
  private state?: { detection: Detection; model: RulesModel; at: number; took: number };
  private fingerprint?: string;
  private changed = false;

  constructor(private readonly opts: ReaderOptions = {}) {}

  /** Shares the read in flight, if any. */
  read(): Promise<Reading> {
    return (this.inflight ??= this.readOnce().finally(() => {
      this.inflight = null;
    }));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private fullAllowed(at: number): boolean {
    const s = this.state;
    if (!s) return true;
    const since = at - s.at;
    return since >= (this.opts.fullIntervalMs ?? 300_000) || (this.changed && since >= Math.max(this.opts.minFullIntervalMs ?? 10_000, s.took * 20));
  }

  private async readOnce(): Promise<Reading> {
    const started = this.now();
    let full = false;
    if (this.fullAllowed(started)) full = await this.readAll();
    let drops = await this.readDrops();
    if (!full && this.fingerprint !== undefined && drops.fingerprint !== this.fingerprint) this.changed = true;
    if (!full && this.fullAllowed(started)) {
      full = await this.readAll();
      drops = await this.readDrops();
    }
    this.fingerprint = drops.fingerprint;
    const { detection, model } = this.state!;
    const problems: Problems = { ...drops.problems };
    const examples: Record<string, string> = {};
    for (const [kind, n] of full ? Object.entries(model.problems) : []) {
      problems[kind] = (problems[kind] ?? 0) + n;
      examples[kind] = model.examples[kind] ?? '';
    }
    return { detection, model, drops: drops.drops, full, problems, examples, missing: drops.missing, durationMs: this.now() - started };
  }

  private async readAll(): Promise<true> {
    const started = this.now();
    const { detection, model } = await this.detectAndRead();
    this.state = { detection, model, at: started, took: this.now() - started };
    this.changed = false;
    return true;
  }

  private async exists(argv: string[]): Promise<boolean> {
    return run(argv, { ...this.opts }).then((r) => r.code === 0, () => false);
  }

  private async detectAndRead(): Promise<{ detection: Detection; model: RulesModel }> {
    const empty = new ModelSink().model('iptables');
    if (await this.exists(['ip', 'link', 'show', 'kube-ipvs0'])) return { detection: { mode: 'ipvs', families: [], message: IPVS_MESSAGE }, model: empty };
    const nftFamilies: Family[] = [];
    for (const [family, nft] of [['ipv4', 'ip'], ['ipv6', 'ip6']] as const) {
      if (await this.exists(['nft', '-j', 'list', 'map', nft, 'kube-proxy', 'no-endpoint-services'])) nftFamilies.push(family);
    }
    if (nftFamilies.length) {
      const builder = new NftModelBuilder();
      for (const family of nftFamilies) await readNftTable(family, builder, this.opts);
      const message = `kube-proxy runs in nftables mode (${nftFamilies.join(' and ')}); its rules have no counters`;
      return { detection: { mode: 'nftables', families: nftFamilies, message }, model: builder.finish() };
    }
    return this.readIptables();
  }

  /** Both backends, as kube-proxy's wrapper compares them: the one with more KUBE- lines holds the rules. */
  private async readIptables(): Promise<{ detection: Detection; model: RulesModel }> {
    const read: Partial<Record<Backend, { builder: IptablesModelBuilder; dumps: IptablesDump[]; families: Family[]; ipvs: boolean }>> = {};
    const failures: string[] = [];
    for (const backend of ['nft', 'legacy'] as const) {
      const builder = new IptablesModelBuilder();
      try {
        const v4 = await readIptablesDump(backend, 'ipv4', builder, this.opts);
        // no IPv6 tables (or no ip6tables) is no error
        const v6 = await readIptablesDump(backend, 'ipv6', builder, this.opts).catch(() => null);
        const dumps = v6 ? [v4, v6] : [v4];
        // an IPv6-only node has kube-proxy rules in ip6tables only: its IPv4 tables are not read per interval
        const families: Family[] = v6 && v6.kubeLines > 0 ? (v4.kubeLines > 0 ? ['ipv4', 'ipv6'] : ['ipv6']) : ['ipv4'];
        read[backend] = { builder, dumps, families, ipvs: dumps.some((d) => d.ipvsChains > 0) };
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    if (!read.nft && !read.legacy) throw new Error(`cannot read iptables rules: ${failures.join('; ')}`);
    const counts = { nft: 0, legacy: 0 };
    for (const b of ['nft', 'legacy'] as const) counts[b] = read[b]?.dumps.reduce((n, d) => n + d.kubeLines, 0) ?? 0;
    const backend: Backend = counts.legacy > counts.nft ? 'legacy' : 'nft';
    const chosen = read[backend]!;
    if (chosen.ipvs) return { detection: { mode: 'ipvs', counts, families: [], message: IPVS_MESSAGE }, model: new ModelSink().model('iptables') };
    const found = `KUBE- lines: ${counts.nft} with iptables-nft, ${counts.legacy} with iptables-legacy`;
    if (counts[backend] === 0) {
      const message = `no kube-proxy rules found (${found}, no nftables table kube-proxy, no kube-ipvs0)`;
      return { detection: { mode: 'none', counts, families: [], message }, model: chosen.builder.finish(...chosen.dumps.map((d) => d.summary)) };
    }
    const both = counts.nft > 0 && counts.legacy > 0 ? '; both backends hold kube-proxy rules, reading the larger' : '';
    const failed = failures.length ? `; ${failures.join('; ')}` : '';
    const detection: Detection = { mode: 'iptables', backend, counts, families: chosen.families, message: `kube-proxy runs in iptables mode, ${backend} backend (${found}${both})${failed}` };
    return { detection, model: chosen.builder.finish(...chosen.dumps.map((d) => d.summary)) };
  }

  private async readDrops(): Promise<FilterReading> {
    const { detection, model } = this.state!;
    const readings: FilterReading[] = [];
    for (const family of detection.families) {
      if (detection.mode === 'nftables') readings.push(await readNftDropMaps(family, this.opts));
      else if (detection.backend === 'legacy') readings.push(await readLegacyFilter(family, this.opts));
      else readings.push(await readNftFilter(family, model, this.opts));
    }
    const drops = readings.flatMap((r) => r.drops);
    // nftables mode: the maps say which Services have no endpoints; firewall and ClusterIP checks change only with a full read
    if (detection.mode === 'nftables') drops.push(...model.drops.filter((d) => d.chain !== 'no-endpoint-services' && d.chain !== 'no-endpoint-nodeports'));
    const problems: Problems = {};
    for (const r of readings) for (const [kind, n] of Object.entries(r.problems)) problems[kind] = (problems[kind] ?? 0) + n;
    return { drops, fingerprint: readings.map((r) => r.fingerprint).join('\n'), problems, missing: readings.flatMap((r) => r.missing) };
  }
}
