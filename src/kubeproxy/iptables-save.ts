// A streaming, tolerant parser of `iptables-save -c` output. It never throws on input: what it cannot read
// it skips and counts by kind, so that the caller logs one line per kind. Lines are independent, so one
// damaged line costs that line only; rules of a table with no COMMIT (a truncated dump) are still kept.
// Lines are read in place in the decoded chunk and one rule object is refilled: at 80,000 rules per dump,
// per-line substrings and objects were most of the parser's cost on a slow node.
import { StringDecoder } from 'node:string_decoder';
import { O, optionCode } from './iptables-options';
import { copyRule, countProblem, ReusedRule, type ChainDecl, type Problems, type Rule } from './rule';
import { Words } from './words';

export interface ParseSummary {
  problems: Problems;
  /** the first line of each kind of problem, cut to 160 characters */
  examples: Record<string, string>;
  /** tables that ended with COMMIT */
  tables: string[];
  rules: number;
  /** rules left unparsed because their target was one the caller skips */
  skipped: number;
}

export interface ParserOptions {
  onChain?: (chain: ChainDecl) => void;
  /** targets whose rules the caller does not need: not parsed (a line quoting ` -j ` is parsed anyway) */
  skipTargets?: readonly string[];
}

// Matches whose options are skipped without a problem: kube-proxy's own and what other tools commonly add.
const KNOWN_MATCHES = new Set([
  'comment', 'tcp', 'udp', 'sctp', 'icmp', 'icmp6', 'icmpv6', 'conntrack', 'statistic', 'mark', 'addrtype', 'nfacct',
  'recent', 'multiport', 'set', 'physdev', 'limit', 'state', 'connmark', 'owner', 'socket', 'rpfilter', 'length',
  'iprange', 'mac', 'pkttype', 'hashlimit', 'connlimit', 'string', 'u32', 'bpf', 'cgroup', 'policy', 'devgroup', 'ttl',
  'hl', 'tos', 'dscp', 'ecn', 'helper', 'time', 'quota', 'rt', 'frag', 'ipv6header', 'ah', 'esp', 'udplite', 'dccp',
]);
const PORT_MATCHES = new Set(['tcp', 'udp', 'sctp']);
// The rest of such a rule is read normally; what the unreadable match tested is unknown.
const KEPT_DESPITE = new Set(['unknown_match', 'unsupported_revision']);

function host(value: string): string {
  return value.endsWith('/32') || value.endsWith('/128') ? value.slice(0, value.lastIndexOf('/')) : value;
}

/** Reads `[p:b]` at t[s] into `out`; returns the index after `]`, or -1. */
function counters(t: string, s: number, out: { packets: number; bytes: number }): number {
  let i = s + 1;
  for (let k = 0; k < 2; k++) {
    const start = i;
    let n = 0;
    for (let c = t.charCodeAt(i); c >= 48 && c <= 57; c = t.charCodeAt(++i)) n = n * 10 + (c - 48);
    if (i === start || t.charCodeAt(i) !== (k === 0 ? 58 : 93)) return -1;
    if (k === 0) out.packets = n;
    else out.bytes = n;
    i++;
  }
  return i;
}

/** The rule t[s..e)'s `-j` target is one of `targets`, found without splitting the line. */
function skipped(t: string, s: number, e: number, targets: readonly string[]): boolean {
  const j = t.lastIndexOf(' -j ', e) + 4;
  if (j < s + 4) return false;
  const quote = t.indexOf('"', j);
  if (quote >= 0 && quote < e) return false;
  return targets.some((x) => t.startsWith(x, j) && (j + x.length === e || t.charCodeAt(j + x.length) === 32));
}

export class IptablesSaveParser {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private table: string | null = null;
  private readonly summary: ParseSummary = { problems: {}, examples: {}, tables: [], rules: 0, skipped: 0 };
  private readonly words = new Words();
  private readonly count = { packets: 0, bytes: 0 };
  private readonly rule = new ReusedRule();

  constructor(
    private readonly onRule: (rule: Rule) => void,
    private readonly opts: ParserOptions = {},
  ) {}

  write(chunk: Buffer | string): void {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.line(text, start, nl);
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  /** Ends the input: a last line without a newline, or a table without COMMIT, means the dump was cut. */
  end(): ParseSummary {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    if (last.trim() !== '') this.problem('truncated', last);
    else if (this.table !== null) this.problem('truncated', `*${this.table} has no COMMIT`);
    this.table = null;
    return this.summary;
  }

  /** Counts a problem; the first line of each kind is kept, cut to 160 characters. */
  private problem(kind: string, t: string, s = 0, e = t.length): null {
    countProblem(this.summary.problems, kind);
    this.summary.examples[kind] ??= e - s > 160 ? `${t.slice(s, s + 157)}...` : t.slice(s, e);
    return null;
  }

  private line(t: string, s: number, e: number): void {
    let rule: Rule | null = null;
    try {
      rule = this.parseLine(t, s, e);
    } catch (err) {
      this.problem('parser_error', `${(err as Error).message}: ${t.slice(s, e)}`);
    }
    if (rule) {
      this.summary.rules++;
      this.onRule(rule);
    }
  }

  private parseLine(t: string, s: number, e: number): Rule | null {
    const c = t.charCodeAt(s);
    if (c === 91 || c === 45) return this.ruleLine(t, s, e); // `[p:b] -A …`, or `-A …` without counters
    const line = t.slice(s, e).trimEnd();
    switch (c) {
      case 35: // #
        return line.startsWith('# Warning:') ? this.problem('warning', line) : null;
      case 42: // *
        if (this.table !== null) this.problem('missing_commit', `*${this.table} before ${line}`);
        this.table = /^\*[a-z_]+$/.test(line) ? line.slice(1) : null;
        return this.table === null ? this.problem('bad_table', line) : null;
      case 58: // :
        return this.chainLine(line);
      default:
        if (line === 'COMMIT' && this.table !== null) {
          this.summary.tables.push(this.table);
          this.table = null;
          return null;
        }
        return line.trim() === '' ? null : this.problem(line === 'COMMIT' ? 'rule_outside_table' : 'bad_line', line);
    }
  }

  private chainLine(line: string): null {
    const m = /^:(\S+) (\S+) \[(\d+):(\d+)\]$/.exec(line);
    if (!m || this.table === null) return this.problem(this.table === null ? 'rule_outside_table' : 'bad_chain', line);
    this.opts.onChain?.({ table: this.table, chain: m[1]!, policy: m[2]!, packets: Number(m[3]), bytes: Number(m[4]) });
    return null;
  }

  private ruleLine(t: string, s: number, e: number): Rule | null {
    if (this.table === null) return this.problem('rule_outside_table', t, s, e);
    const { words: w, count } = this;
    count.packets = count.bytes = 0;
    let from = s;
    if (t.charCodeAt(s) === 91) {
      from = counters(t, s, count);
      if (from < 0) return this.problem('bad_counters', t, s, e);
    } else this.problem('missing_counters', t, s, e);
    if (this.opts.skipTargets && skipped(t, s, e, this.opts.skipTargets)) {
      this.summary.skipped++;
      return null;
    }
    w.reset(t, from, e);
    if (!w.next() || !(w.is('-A') || w.is('--append')) || !w.next() || w.quoted) {
      return this.problem(w.unbalanced ? 'unbalanced_quote' : 'bad_rule', t, s, e);
    }
    const rule = this.rule.reset(this.table, w.value(), count.packets, count.bytes);
    let kind = this.options(rule);
    if (kind === null) return rule;
    if (!KEPT_DESPITE.has(kind)) {
      while (w.next()); // an open quote further on explains the stray word better
      if (w.unbalanced) kind = 'unbalanced_quote';
    }
    this.problem(kind, t, s, e);
    return KEPT_DESPITE.has(kind) ? rule : null;
  }

  /** Fills `rule` from the rest of the line; returns a problem kind or null. Options it does not use are skipped. */
  private options(rule: ReusedRule): string | null {
    const w = this.words;
    let negated = false;
    let match = '';
    let afterTarget = false;
    let problem: string | null = null;
    while (w.next()) {
      const opt = w.quoted ? O.NotOption : optionCode(w.line, w.start, w.end);
      if (opt === O.Not) {
        negated = true;
        continue;
      }
      if (opt === O.Unsupported) {
        if (!w.next() || !w.is('revision]')) return 'stray_token';
        problem = 'unsupported_revision';
        continue;
      }
      if (opt === O.NotOption) return 'stray_token';
      if (opt === O.ShortOther) return 'unknown_option';
      if (opt === O.Other || opt === O.Frag || opt === O.Counters || afterTarget !== opt >= O.ToDestination) {
        // another option of a match or target (or -f, or -c's two counters): skip its values, however many
        while (w.peekValue()) w.next();
        negated = false;
        continue;
      }
      if (!(opt === O.Comment ? w.next() : w.peekValue() && w.next())) return w.unbalanced ? 'unbalanced_quote' : 'missing_value';
      const v = w.value();
      switch (opt) {
        case O.Source: rule.set('source', host(v), negated); break;
        case O.Destination: rule.set('destination', host(v), negated); break;
        case O.Protocol: rule.set('protocol', v, negated); break;
        case O.InInterface: rule.set('inInterface', v, negated); break;
        case O.OutInterface: rule.set('outInterface', v, negated); break;
        case O.Match:
          match = v;
          if (!KNOWN_MATCHES.has(match)) problem ??= 'unknown_match';
          break;
        case O.Jump:
        case O.Goto:
          rule.target = v;
          rule.goto = opt === O.Goto;
          afterTarget = true;
          break;
        case O.DPort: if (PORT_MATCHES.has(match)) rule.set('dport', v, negated); break;
        case O.SPort: if (PORT_MATCHES.has(match)) rule.set('sport', v, negated); break;
        case O.Comment: rule.comment = v; break;
        case O.CtState: rule.set('ctstate', v, negated); break;
        case O.Probability: rule.probability = Number(v); break;
        case O.Mark: if (match === 'mark') rule.set('mark', v, negated); break;
        case O.SrcType: rule.set('srcType', v, negated); break;
        case O.DstType: rule.set('dstType', v, negated); break;
        case O.Nfacct: rule.nfacct = v; break;
        case O.ToDestination: rule.toDestination = v; break;
        case O.RejectWith: rule.rejectWith = v; break;
        case O.SetXmark: rule.setXmark = v; break;
      }
      negated = false;
    }
    return w.unbalanced ? 'unbalanced_quote' : problem;
  }
}

export interface ParsedDump {
  rules: Rule[];
  chains: ChainDecl[];
  summary: ParseSummary;
}

/** The whole dump at once, for small inputs and tests; the reader streams into IptablesSaveParser. */
export function parseIptablesSave(text: string | Buffer): ParsedDump {
  const rules: Rule[] = [];
  const chains: ChainDecl[] = [];
  const parser = new IptablesSaveParser((r) => rules.push(copyRule(r)), { onChain: (c) => chains.push(c) });
  parser.write(text);
  return { rules, chains, summary: parser.end() };
}
