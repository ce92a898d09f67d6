// One iptables rule as the parser reads it, and problems counted by kind.
import { Interner } from './interner';

export interface Negatable {
  value: string;
  negated: boolean;
}

/**
 * What a parser hands over is reused for its next rule (80,000 of them would be that much garbage): copy what you
 * keep. Its strings are the parser's own, never slices of the dump: keeping one keeps nothing else alive.
 */
export interface Rule {
  table: string;
  chain: string;
  packets: number;
  bytes: number;
  /** `-s`/`-d` with `/32` and `/128` dropped */
  source?: Negatable;
  destination?: Negatable;
  protocol?: Negatable;
  inInterface?: Negatable;
  outInterface?: Negatable;
  sport?: Negatable;
  dport?: Negatable;
  comment?: string;
  ctstate?: Negatable;
  probability?: number;
  mark?: Negatable;
  srcType?: Negatable;
  dstType?: Negatable;
  nfacct?: string;
  /** `-j` target or `-g` chain; absent for a rule that only counts */
  target?: string;
  goto: boolean;
  toDestination?: string;
  rejectWith?: string;
  setXmark?: string;
  /** the chain's and the target's numbers in `names`, the parser's name table (-1: no target); not on copies */
  chainId?: number;
  targetId?: number;
  names?: Interner;
}

export interface ChainDecl {
  table: string;
  chain: string;
  /** ACCEPT/DROP for built-in chains, `-` for user chains */
  policy: string;
  packets: number;
  bytes: number;
}

/** `{kind: count}`: the caller logs one line per kind. */
export type Problems = Record<string, number>;

export function countProblem(problems: Problems, kind: string, n = 1): void {
  problems[kind] = (problems[kind] ?? 0) + n;
}

const negatable = (): Negatable => ({ value: '', negated: false });

/** Refills a spare Negatable. */
export function fill(n: Negatable, value: string, negated: boolean): Negatable {
  n.value = value;
  n.negated = negated;
  return n;
}

/** The one rule a parser fills, line after line; each Negatable field has its own spare object. */
export class ReusedRule implements Rule {
  table = '';
  chain = '';
  packets = 0;
  bytes = 0;
  source: Negatable | undefined = undefined;
  destination: Negatable | undefined = undefined;
  protocol: Negatable | undefined = undefined;
  inInterface: Negatable | undefined = undefined;
  outInterface: Negatable | undefined = undefined;
  sport: Negatable | undefined = undefined;
  dport: Negatable | undefined = undefined;
  comment: string | undefined = undefined;
  ctstate: Negatable | undefined = undefined;
  probability: number | undefined = undefined;
  mark: Negatable | undefined = undefined;
  srcType: Negatable | undefined = undefined;
  dstType: Negatable | undefined = undefined;
  nfacct: string | undefined = undefined;
  target: string | undefined = undefined;
  goto = false;
  toDestination: string | undefined = undefined;
  rejectWith: string | undefined = undefined;
  setXmark: string | undefined = undefined;
  chainId = -1;
  targetId = -1;
  /** the parser's: `rule.source = fill(rule.spare.source, …)`, with named properties (keyed ones were megamorphic) */
  readonly spare = {
    source: negatable(), destination: negatable(), protocol: negatable(), inInterface: negatable(), outInterface: negatable(),
    sport: negatable(), dport: negatable(), ctstate: negatable(), mark: negatable(), srcType: negatable(), dstType: negatable(),
  };

  constructor(readonly names: Interner) {}

  reset(table: string, chain: string, chainId: number, packets: number, bytes: number): this {
    this.table = table;
    this.chain = chain;
    this.chainId = chainId;
    this.targetId = -1;
    this.packets = packets;
    this.bytes = bytes;
    this.source = this.destination = this.protocol = this.inInterface = this.outInterface = undefined;
    this.sport = this.dport = this.ctstate = this.mark = this.srcType = this.dstType = undefined;
    this.comment = this.nfacct = this.target = this.toDestination = this.rejectWith = this.setXmark = undefined;
    this.probability = undefined;
    this.goto = false;
    return this;
  }
}

// the parser's own: a copy is the rule as the dump says it
const NOT_COPIED = new Set(['spare', 'chainId', 'targetId', 'names']);

/** A plain copy that outlives the parser's next line. */
export function copyRule(r: Rule): Rule {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v !== undefined && !NOT_COPIED.has(k)) copy[k] = typeof v === 'object' ? { ...v } : v;
  }
  return copy as unknown as Rule;
}

