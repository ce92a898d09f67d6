// One command each: a dump streamed into its parser. The reader decides which to run and when.
import { setImmediate as turn } from 'node:timers/promises';
import { addon, netnsPath } from '../native';
import { CommandError, run, type RunOptions } from './command';
import { IptablesModelBuilder, classifyDrop } from './iptables-model';
import { keepHiddenClass } from './hidden-classes';
import { IptablesSaveParser, type ParseSummary, type ParserOptions, type RuleSink } from './iptables-save';
import { countProblem, type Rule } from './rule';
import { JsonElements } from './json-elements';
import { unlessMissing, type MissingPiece } from './missing';
import { dropKey, type DropRule, type Family, type RulesModel } from './model';
import { NftFilterReader, type FilterReading } from './nft-filter';
import { NftModelBuilder } from './nft-json';

export type Backend = 'nft' | 'legacy';
export interface DumpOptions extends Omit<RunOptions, 'onData'> {
  /**
   * iptables-legacy's tables: from the kernel through the addon (the default), or the text of
   * `iptables-legacy-save -c` (kept to check the first against, and to compare their costs)
   */
  legacyVia?: 'kernel' | 'iptables-save';
}

const TOOL: Record<Family, string> = { ipv4: 'iptables', ipv6: 'ip6tables' };
const NFT_FAMILY: Record<Family, string> = { ipv4: 'ip', ipv6: 'ip6' };
// Masquerade marking is three rules in eight at scale and tells nothing about Services or drops.
export const PARSE_DUMP: ParserOptions = { skipTargets: ['KUBE-MARK-MASQ'], countChains: ['KUBE-', 'KUBE-IPVS'] };

async function stream(argv: string[], write: (chunk: Buffer) => void, opts: DumpOptions): Promise<string> {
  const res = await run(argv, { ...opts, onData: write });
  if (res.code !== 0) throw new CommandError(opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv, res.code, res.stderr);
  return res.stderr;
}

/**
 * `iptables-legacy-save -c [-t TABLE]`, streamed to `write`; by default read from the kernel instead
 * (IPT_SO_GET_ENTRIES, in the addon): the child prints the whole table to a pipe, slower than the kernel's copy
 * (bench/RESULTS.md). The addon's slices are parsed one per turn of the event loop, as they come, while it prints
 * the rest. Returns the tool's stderr ('' from the kernel).
 */
async function legacySave(family: Family, table: string | null, write: (chunk: Buffer) => void, opts: DumpOptions): Promise<string> {
  if (opts.legacyVia === 'iptables-save') return stream([`${TOOL[family]}-legacy-save`, '-c', ...(table ? ['-t', table] : [])], write, opts);
  const slices: Buffer[] = [];
  let wake = () => {};
  let done = false;
  const options = { netnsPath: netnsPath(opts.netns), family: family === 'ipv4' ? 4 : 6, tables: table ? [table] : [] } as const;
  const read = addon().iptablesLegacySave(options, (slice) => {
    slices.push(slice);
    wake();
  }).finally(() => {
    done = true;
    wake();
  });
  read.catch(() => undefined); // rethrown below, once the slices before the failure are parsed
  for (;;) {
    const slice = slices.shift();
    if (slice) {
      write(slice);
      await turn();
    } else if (done) break;
    else await new Promise<void>((resolve) => (wake = resolve));
  }
  await read;
  return '';
}

/** iptables-nft-save warns on stderr too (legacy tables present, …): counted with the dump's own warnings. */
function warnings(stderr: string, summary: ParseSummary): void {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('# Warning:')) continue;
    countProblem(summary.problems, 'warning');
    summary.examples.warning ??= line.slice(0, 160);
  }
}

export interface IptablesDump {
  summary: ParseSummary;
  /** lines that name a KUBE- chain, as kube-proxy's iptables wrapper counts them to pick a backend */
  kubeLines: number;
  /** KUBE-IPVS-* chains: what IPVS mode leaves in iptables */
  ipvsChains: number;
}

/** Counts the rules kube-proxy's wrapper counts (the parser counts chains) on the way into the builder. */
class DumpSink implements RuleSink {
  kubeLines = 0;

  constructor(private readonly builder: IptablesModelBuilder) {}

  rule(r: Rule): void {
    if (r.chain.startsWith('KUBE-') || r.target?.startsWith('KUBE-')) this.kubeLines++;
    this.builder.rule(r);
  }
}

/** `iptables-<backend>-save -c` (ip6tables- for IPv6; legacy's from the kernel), streamed into the builder. */
export async function readIptablesDump(backend: Backend, family: Family, builder: IptablesModelBuilder, opts: DumpOptions = {}): Promise<IptablesDump> {
  builder.family = family;
  const sink = new DumpSink(builder);
  const parser = new IptablesSaveParser(sink, { ...PARSE_DUMP, names: builder.names });
  const write = (c: Buffer) => parser.write(c);
  const stderr = backend === 'legacy' ? await legacySave(family, null, write, opts) : await stream([`${TOOL[family]}-nft-save`, '-c'], write, opts);
  const summary = parser.end();
  warnings(stderr, summary);
  const { 'KUBE-': kubeChains = 0, 'KUBE-IPVS': ipvsChains = 0 } = summary.declared;
  return { summary, kubeLines: sink.kubeLines + kubeChains + summary.skipped, ipvsChains };
}

/** `nft -j list table <family> kube-proxy` (nftables mode), streamed into the builder. */
export async function readNftTable(family: Family, builder: NftModelBuilder, opts: DumpOptions = {}): Promise<void> {
  const elements = new JsonElements((el) => builder.element(el));
  await stream(['nft', '-j', 'list', 'table', NFT_FAMILY[family], 'kube-proxy'], (c) => elements.write(c), opts);
  builder.noteListing(elements.end(), elements.bad);
}

/**
 * nftables mode, per interval: the verdict maps that say which Services drop or reject (no counters). A map this
 * kube-proxy version does not have (1.29 had no firewall-ips) is skipped and told in `missing`.
 */
export async function readNftDropMaps(family: Family, opts: DumpOptions = {}): Promise<FilterReading> {
  const builder = new NftModelBuilder();
  const missing: MissingPiece[] = [];
  for (const map of ['no-endpoint-services', 'no-endpoint-nodeports', 'firewall-ips']) {
    const elements = new JsonElements((el) => builder.element(el));
    const argv = ['nft', '-j', 'list', 'map', NFT_FAMILY[family], 'kube-proxy', map];
    const read = await unlessMissing(missing, { kind: 'map', name: argv.slice(4).join(' ') }, () => stream(argv, (c) => elements.write(c), opts));
    if (read !== null) builder.noteListing(elements.end(), elements.bad);
  }
  const model = builder.finish();
  // firewall drops need their chains' rules, which only the full listing has
  const drops = model.drops.filter((d) => d.kind !== 'firewall_drop');
  return { drops, fingerprint: drops.map((d) => d.key).sort().join('\n'), problems: model.problems, missing };
}

/** iptables-nft, per interval: the filter table's drop rules and counters through nft's JSON (see nft-filter.ts). */
export async function readNftFilter(family: Family, model: RulesModel, opts: DumpOptions = {}): Promise<FilterReading> {
  const reader = new NftFilterReader(model);
  const elements = new JsonElements((el) => reader.element(el));
  const argv = ['nft', '-j', 'list', 'table', NFT_FAMILY[family], 'filter'];
  const missing: MissingPiece[] = [];
  const read = await unlessMissing(missing, { kind: 'table', name: argv.slice(4).join(' ') }, () => stream(argv, (c) => elements.write(c), opts));
  const reading = { ...reader.finish(), missing };
  if (read !== null && !elements.end()) countProblem(reading.problems, 'truncated');
  return reading;
}

/** The drop and reject rules of a dump. */
class DropSink implements RuleSink {
  readonly drops: DropRule[] = [];

  constructor(private readonly family: Family) {}

  rule(r: Rule): void {
    const d = classifyDrop(r, this.family);
    if (d) this.drops.push({ ...d, key: dropKey(d) });
  }
}

/** iptables-legacy, per interval: `-t filter` reads only that table from the kernel, so it stays cheap. */
export async function readLegacyFilter(family: Family, opts: DumpOptions = {}): Promise<FilterReading> {
  const sink = new DropSink(family);
  const text: string[] = [];
  const parser = new IptablesSaveParser(sink);
  const stderr = await legacySave(family, 'filter', (c) => {
    parser.write(c);
    text.push(c.toString('utf8'));
  }, opts);
  const summary = parser.end();
  warnings(stderr, summary);
  // the rules without their counters and the dump's dated comments: it changes when a rule does
  const fingerprint = text.join('').replace(/\[\d+:\d+\]|^#.*$/gm, '');
  return { drops: sink.drops, fingerprint, problems: summary.problems, missing: [] };
}

keepHiddenClass(new DumpSink(new IptablesModelBuilder()));
keepHiddenClass(new DropSink('ipv4'));
