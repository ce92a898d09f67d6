// A streaming, tolerant parser of `iptables-save -c` output. It never throws on input: what it cannot read
// it skips and counts by kind, so that the caller logs one line per kind. Lines are independent, so one
// damaged line costs that line only; rules of a table with no COMMIT (a truncated dump) are still kept.
// Lines are read in the chunk's bytes (a line cut between chunks is carried over, bytes too, so no UTF-8
// character is ever split) and one rule object is refilled: decoding the text, and a string or object per line,
// were most of the parser's cost, and their garbage outgrew the young generation.
import { O, optionCode } from './iptables-options';
import { decode, equal, Interner } from './interner';
import { copyRule, countProblem, fill, ReusedRule, type ChainDecl, type Problems, type Rule } from './rule';
import { Words } from './words';
import { keepHiddenClass } from './hidden-classes';

export interface ParseSummary {
  problems: Problems;
  /** the first line of each kind of problem, cut to 160 characters */
  examples: Record<string, string>;
  /** tables that ended with COMMIT */
  tables: string[];
  rules: number;
  /** rules left unparsed because their target was one the caller skips */
  skipped: number;
  /** chains declared, by each of the options' `countChains` prefixes */
  declared: Record<string, number>;
}

/**
 * What the parser hands its lines to: an object whose class outlives the read, not closures made for it, so that
 * the parser's optimized code (which inlines these calls) survives from one read to the next (see hidden-classes.ts).
 */
export interface RuleSink {
  /** reused for the next rule: copy what you keep */
  rule(rule: Rule): void;
  /** reused for the next chain line, as rules are */
  chain?(chain: ChainDecl): void;
}

export interface ParserOptions {
  /** targets whose rules the caller does not need: not parsed (a line quoting ` -j ` is parsed anyway) */
  skipTargets?: readonly string[];
  /**
   * count the chains declared with each of these prefixes, in the dump's bytes: a sink with no `chain` then costs
   * no string per chain
   */
  countChains?: readonly string[];
  /** the name table the rules' chainId and targetId number in: shared, one name has one number in all its dumps */
  names?: Interner;
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
const NEWLINE = 10;
const SPACE = 32;
// module constants, not literals: a literal is a new RegExp at each use, and optimized code built on one
// was thrown away when a full GC collected it
const TABLE_LINE = /^\*[a-z_]+$/;
const CHAIN_LINE = /^:(\S+) (\S+) \[(\d+):(\d+)\]$/;

/** `-s`/`-d`'s value without `/32` or `/128`. */
function host(w: Words): string {
  return w.value(w.endsWith('/32') ? 3 : w.endsWith('/128') ? 4 : 0);
}

/** Reads the decimal number b[s..e) (Number() past 15 digits, which it rounds correctly); -1 if not digits. */
function decimal(b: Buffer, s: number, e: number): number {
  if (s >= e) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return e - s > 15 ? Number(decode(b, s, e)) : n;
}

/** Reads `[p:b]` at b[s] (before e) into `out`; returns the index after `]`, or -1. */
function counters(b: Buffer, s: number, e: number, out: { packets: number; bytes: number }): number {
  let i = s + 1;
  while (i < e && b[i] !== 58) i++;
  const packets = decimal(b, s + 1, i);
  const close = i + 1;
  for (i = close; i < e && b[i] !== 93; ) i++;
  const bytes = i < e ? decimal(b, close, i) : -1;
  if (packets < 0 || bytes < 0) return -1;
  out.packets = packets;
  out.bytes = bytes;
  return i + 1;
}

/** b[s..e) starts with the bytes `prefix`. */
function startsWith(b: Buffer, s: number, e: number, prefix: Buffer): boolean {
  if (e - s < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[s + k] !== prefix[k]) return false;
  return true;
}

/** The rule b[s..e)'s last ` -j ` is unquoted and its target one of `targets`, found without splitting the line. */
function skipped(b: Buffer, s: number, e: number, targets: readonly string[]): boolean {
  let j = e - 4;
  while (j >= s && !(b[j] === SPACE && b[j + 1] === 45 && b[j + 2] === 106 && b[j + 3] === SPACE)) j--;
  if (j < s) return false;
  j += 4;
  for (let i = j; i < e; i++) if (b[i] === 34) return false;
  for (const x of targets) if (e - j >= x.length && equal(x, b, j) && (j + x.length === e || b[j + x.length] === SPACE)) return true;
  return false;
}

export class IptablesSaveParser {
  /** the start of a line the next chunk ends */
  private carry = Buffer.allocUnsafe(4096);
  private carried = 0;
  private table: string | null = null;
  private readonly summary: ParseSummary = { problems: {}, examples: {}, tables: [], rules: 0, skipped: 0, declared: {} };
  /** countChains as bytes, and their counts */
  private readonly prefixes: Buffer[];
  private readonly counted: number[];
  private readonly words = new Words();
  private readonly names: Interner;
  private readonly count = { packets: 0, bytes: 0 };
  private readonly rule: ReusedRule;
  /** the bytes of the last rule's chain */
  private lastChain = Buffer.allocUnsafe(64);
  private lastLength = -1;
  /** by name number: whether a match is known (1), one with ports (2), or not (3); 0 not yet looked at */
  private matches = new Uint8Array(64);
  private readonly chain: ChainDecl = { table: '', chain: '', policy: '', packets: 0, bytes: 0 };

  constructor(
    private readonly sink: RuleSink,
    private readonly opts: ParserOptions = {},
  ) {
    this.names = opts.names ?? new Interner();
    this.rule = new ReusedRule(this.names);
    this.prefixes = (opts.countChains ?? []).map((p) => Buffer.from(p));
    this.counted = this.prefixes.map(() => 0);
  }

  write(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    if (this.carried > 0) {
      const nl = b.indexOf(NEWLINE);
      this.keep(b, 0, nl < 0 ? b.length : nl);
      if (nl < 0) return;
      this.line(this.carry, 0, this.carried);
      this.carried = 0;
      start = nl + 1;
    }
    for (let nl = b.indexOf(NEWLINE, start); nl >= 0; nl = b.indexOf(NEWLINE, start)) {
      this.line(b, start, nl);
      start = nl + 1;
    }
    if (start < b.length) this.keep(b, start, b.length);
  }

  /** Appends b[s..e) to the carried line. */
  private keep(b: Buffer, s: number, e: number): void {
    const need = this.carried + e - s;
    if (need > this.carry.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, 2 * this.carry.length));
      this.carry.copy(bigger, 0, 0, this.carried);
      this.carry = bigger;
    }
    this.carried += b.copy(this.carry, this.carried, s, e);
  }

  /** Ends the input: a last line without a newline, or a table without COMMIT, means the dump was cut. */
  end(): ParseSummary {
    const last = decode(this.carry, 0, this.carried);
    this.carried = 0;
    if (last.trim() !== '') this.problem('truncated', last);
    else if (this.table !== null) this.problem('truncated', `*${this.table} has no COMMIT`);
    this.table = null;
    this.opts.countChains?.forEach((p, k) => (this.summary.declared[p] = this.counted[k]!));
    return this.summary;
  }

  /** Counts a problem; the first line of each kind is kept, cut to 160 characters. */
  private problem(kind: string, line: string): null {
    countProblem(this.summary.problems, kind);
    this.summary.examples[kind] ??= line.length > 160 ? `${line.slice(0, 157)}...` : line;
    return null;
  }

  private problemAt(kind: string, b: Buffer, s: number, e: number): null {
    return this.problem(kind, kind in this.summary.examples ? '' : decode(b, s, e));
  }

  private line(b: Buffer, s: number, e: number): void {
    let rule: Rule | null = null;
    try {
      rule = this.parseLine(b, s, e);
    } catch (err) {
      this.problem('parser_error', `${(err as Error).message}: ${decode(b, s, e)}`);
    }
    if (rule) {
      this.summary.rules++;
      this.sink.rule(rule);
    }
  }

  private parseLine(b: Buffer, s: number, e: number): Rule | null {
    const c = s < e ? b[s] : NEWLINE;
    if (c === 91 || c === 45) return this.ruleLine(b, s, e); // `[p:b] -A …`, or `-A …` without counters
    if (c === 58 && this.chainFast(b, s, e)) return null;
    const line = decode(b, s, e).trimEnd();
    switch (c) {
      case 35: // #
        return line.startsWith('# Warning:') ? this.problem('warning', line) : null;
      case 42: // *
        if (this.table !== null) this.problem('missing_commit', `*${this.table} before ${line}`);
        this.table = TABLE_LINE.test(line) ? line.slice(1) : null;
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

  /**
   * `:CHAIN POLICY [packets:bytes]` in printable ASCII, trailing blanks allowed, read in place: true if read.
   * Any other line starting with `:` is left to the regular expression, which decides.
   */
  private chainFast(b: Buffer, s: number, e: number): boolean {
    if (this.table === null) return false;
    while (e > s && (b[e - 1] === SPACE || (b[e - 1]! >= 9 && b[e - 1]! <= 13))) e--;
    const name = s + 1;
    let i = name;
    while (i < e && b[i]! > SPACE && b[i]! < 127) i++;
    const policy = i + 1;
    if (i === name || policy >= e || b[i] !== SPACE) return false;
    for (i = policy; i < e && b[i]! > SPACE && b[i]! < 127; ) i++;
    if (i === policy || i + 1 >= e || b[i] !== SPACE || b[i + 1] !== 91 || counters(b, i + 1, e, this.count) !== e) return false;
    const { prefixes, counted } = this;
    for (let k = 0; k < prefixes.length; k++) if (startsWith(b, name, policy - 1, prefixes[k]!)) counted[k]++;
    if (!this.sink.chain) return true;
    const c = this.chain;
    c.table = this.table;
    c.chain = this.names.get(b, name, policy - 1);
    c.policy = this.names.get(b, policy, i);
    c.packets = this.count.packets;
    c.bytes = this.count.bytes;
    this.sink.chain(c);
    return true;
  }

  private chainLine(line: string): null {
    const m = CHAIN_LINE.exec(line);
    if (!m || this.table === null) return this.problem(this.table === null ? 'rule_outside_table' : 'bad_chain', line);
    const c = this.chain;
    [c.table, c.chain, c.policy, c.packets, c.bytes] = [this.table, m[1]!, m[2]!, Number(m[3]), Number(m[4])];
    this.opts.countChains?.forEach((p, k) => c.chain.startsWith(p) && this.counted[k]++);
    this.sink.chain?.(c);
    return null;
  }

  private ruleLine(b: Buffer, s: number, e: number): Rule | null {
    if (this.table === null) return this.problemAt('rule_outside_table', b, s, e);
    const { words: w, count } = this;
    count.packets = count.bytes = 0;
    let from = s;
    if (b[s] === 91) {
      from = counters(b, s, e, count);
      if (from < 0) return this.problemAt('bad_counters', b, s, e);
    } else this.problemAt('missing_counters', b, s, e);
    if (this.opts.skipTargets && skipped(b, s, e, this.opts.skipTargets)) {
      this.summary.skipped++;
      return null;
    }
    w.reset(b, from, e);
    if (!w.next() || !(w.is('-A') || w.is('--append')) || !w.next() || w.quoted) {
      return this.problemAt(w.unbalanced ? 'unbalanced_quote' : 'bad_rule', b, s, e);
    }
    const rule = this.chainOf(w, b);
    let kind = this.options(rule);
    if (kind === null) return rule;
    if (!KEPT_DESPITE.has(kind)) {
      while (w.next()); // an open quote further on explains the stray word better
      if (w.unbalanced) kind = 'unbalanced_quote';
    }
    this.problemAt(kind, b, s, e);
    return KEPT_DESPITE.has(kind) ? rule : null;
  }

  /** What the match `name` (numbered `id`) is: 1 known, 2 known with ports, 3 unknown; looked up once per name. */
  private matchKind(name: string, id: number): number {
    if (id >= this.matches.length) {
      const bigger = new Uint8Array(Math.max(2 * this.matches.length, id + 1));
      bigger.set(this.matches);
      this.matches = bigger;
    }
    return (this.matches[id] ||= PORT_MATCHES.has(name) ? 2 : KNOWN_MATCHES.has(name) ? 1 : 3);
  }

  /** The rule, reset for the chain word: the last rule's chain when the bytes are the same (a chain's rules are consecutive). */
  private chainOf(w: Words, b: Buffer): ReusedRule {
    const { rule, count } = this;
    const n = w.end - w.start;
    let same = n === this.lastLength;
    for (let i = 0; same && i < n; i++) same = this.lastChain[i] === b[w.start + i];
    if (same) return rule.reset(this.table!, rule.chain, rule.chainId, count.packets, count.bytes);
    if (n > this.lastChain.length) this.lastChain = Buffer.allocUnsafe(2 * n);
    for (let i = 0; i < n; i++) this.lastChain[i] = b[w.start + i]!;
    this.lastLength = n;
    return rule.reset(this.table!, w.name(this.names), this.names.id, count.packets, count.bytes);
  }

  /** Fills `rule` from the rest of the line; returns a problem kind or null. Options it does not use are skipped. */
  private options(rule: ReusedRule): string | null {
    const w = this.words;
    let negated = false;
    let match = '';
    let ports = 0;
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
        while (w.peekValue() && w.next());
        negated = false;
        continue;
      }
      if (!(opt === O.Comment ? w.next() : w.peekValue() && w.next())) return w.unbalanced ? 'unbalanced_quote' : 'missing_value';
      // names recur and are interned; comments and addresses are mostly one-offs
      const names = this.names;
      const sp = rule.spare;
      switch (opt) {
        case O.Source: rule.source = fill(sp.source, host(w), negated); break;
        case O.Destination: rule.destination = fill(sp.destination, host(w), negated); break;
        case O.Protocol: rule.protocol = fill(sp.protocol, w.name(names), negated); break;
        case O.InInterface: rule.inInterface = fill(sp.inInterface, w.name(names), negated); break;
        case O.OutInterface: rule.outInterface = fill(sp.outInterface, w.name(names), negated); break;
        case O.Match:
          match = w.name(names);
          ports = this.matchKind(match, names.id);
          if (ports === 3) problem ??= 'unknown_match';
          break;
        case O.Jump:
        case O.Goto:
          rule.target = w.name(names);
          rule.targetId = names.id;
          rule.goto = opt === O.Goto;
          afterTarget = true;
          break;
        case O.DPort: if (ports === 2) rule.dport = fill(sp.dport, w.name(names), negated); break;
        case O.SPort: if (ports === 2) rule.sport = fill(sp.sport, w.name(names), negated); break;
        case O.Comment: rule.comment = w.value(); break;
        case O.CtState: rule.ctstate = fill(sp.ctstate, w.name(names), negated); break;
        case O.Probability: rule.probability = w.number(); break;
        case O.Mark: if (match === 'mark') rule.mark = fill(sp.mark, w.name(names), negated); break;
        case O.SrcType: rule.srcType = fill(sp.srcType, w.name(names), negated); break;
        case O.DstType: rule.dstType = fill(sp.dstType, w.name(names), negated); break;
        case O.Nfacct: rule.nfacct = w.name(names); break;
        case O.ToDestination: rule.toDestination = w.value(); break;
        case O.RejectWith: rule.rejectWith = w.name(names); break;
        case O.SetXmark: rule.setXmark = w.name(names); break;
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
  const parser = new IptablesSaveParser({ rule: (r) => rules.push(copyRule(r)), chain: (c) => chains.push({ ...c }) });
  parser.write(text);
  return { rules, chains, summary: parser.end() };
}

keepHiddenClass(new IptablesSaveParser({ rule: () => {} }));
