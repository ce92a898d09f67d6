// kube-proxy's drop and reject rules with their counters, from iptables-nft's filter table as `nft -j list
// table ip filter` prints it: `iptables-nft-save -t filter` fetches the whole ruleset and costs as much as a full
// read (bench/RESULTS.md). nft shows the matches it cannot translate (comment, conntrack,
// addrtype) as bare `xt` names, so rules are matched to the model's by chain, verdict and destination.
import type { MissingPiece } from './missing';
import type { Problems } from './rule';
import { destination, dropKey, indexDestinations, type DropKind, type DropRule, type Family, type RulesModel } from './model';
import { ruleVerdict } from './nft-json';

type Json = Record<string, unknown>;

interface RuleSummary {
  daddr?: string;
  dport?: number;
  protocol?: string;
  xt: string[];
  mark: boolean;
  packets?: number;
  bytes?: number;
}

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** What kube-proxy's rules test, from a rule's `expr` list. */
export function summarize(expr: unknown): RuleSummary {
  const s: RuleSummary = { xt: [], mark: false };
  for (const e of Array.isArray(expr) ? expr : []) {
    const o = obj(e);
    const match = obj(o?.match);
    const payload = obj(obj(match?.left)?.payload);
    const right = match?.right;
    const prefix = obj(obj(right)?.prefix);
    if (payload?.field === 'daddr' && match?.op === '==') s.daddr = prefix ? `${prefix.addr}/${prefix.len}` : String(right);
    if (payload?.field === 'dport' && typeof right === 'number') {
      s.dport = right;
      if (payload.protocol !== 'th') s.protocol ??= String(payload.protocol);
    }
    if (obj(obj(match?.left)?.meta)?.key === 'l4proto' && typeof right === 'string') s.protocol = right;
    if (Array.isArray(obj(match?.left)?.['&']) && JSON.stringify(match!.left).includes('"mark"')) s.mark = true;
    const xt = obj(o?.xt);
    if (xt?.type === 'match' && typeof xt.name === 'string') s.xt.push(xt.name);
    const counter = obj(o?.counter);
    if (counter) [s.packets, s.bytes] = [Number(counter.packets), Number(counter.bytes)];
  }
  return s;
}

const PER_SERVICE: Record<string, (verdict: string) => DropKind> = {
  'KUBE-SERVICES': (v) => (v === 'reject' ? 'reject_no_endpoints' : 'drop_no_local_endpoints'),
  'KUBE-EXTERNAL-SERVICES': (v) => (v === 'reject' ? 'reject_no_endpoints' : 'drop_no_local_endpoints'),
  'KUBE-PROXY-FIREWALL': () => 'firewall_drop',
};

export interface FilterReading {
  drops: DropRule[];
  /** every rule's handle in order: kube-proxy rewrites its filter chains on each sync, so this changes with it */
  fingerprint: string;
  problems: Problems;
  /** tables and maps this node does not have, skipped */
  missing: MissingPiece[];
}

export class NftFilterReader {
  private readonly drops: DropRule[] = [];
  private readonly handles: string[] = [];
  private readonly problems: Problems = {};
  private readonly byRule = new Map<string, string | undefined>();
  /** the same without the port, which nft cannot show for an untranslated match (sctp) */
  private readonly byAddress = new Map<string, DropRule[]>();
  private readonly byDestination: Map<string, string>;

  constructor(model: RulesModel) {
    for (const d of model.drops) {
      if (d.table !== 'filter') continue;
      this.byRule.set(`${d.family} ${d.kind} ${d.chain} ${d.destination}`, d.service);
      const portless = `${d.family} ${d.kind} ${d.chain} ${d.destination.replace(/:[^:/]*\//, ':*/')}`;
      this.byAddress.set(portless, [...(this.byAddress.get(portless) ?? []), d]);
    }
    this.byDestination = indexDestinations(model);
  }

  element(el: Json): void {
    const rule = obj(el.rule);
    if (!rule || typeof rule.chain !== 'string') return;
    this.handles.push(String(rule.handle));
    const { verdict } = ruleVerdict(rule.expr);
    if (verdict !== 'drop' && verdict !== 'reject') return;
    const family: Family = rule.family === 'ip6' ? 'ipv6' : 'ipv4';
    const s = summarize(rule.expr);
    const chain = rule.chain;
    let kind: DropKind;
    let dest = '';
    if (PER_SERVICE[chain]) {
      kind = PER_SERVICE[chain]!(verdict);
      if (s.daddr !== undefined) dest = destination(s.daddr, s.dport, s.protocol);
      else if (s.xt.includes('addrtype')) dest = destination(undefined, s.dport, s.protocol);
    } else if (chain === 'KUBE-FORWARD' && s.xt.includes('conntrack')) kind = 'drop_invalid';
    else if (chain === 'KUBE-FIREWALL') kind = s.mark || s.xt.includes('mark') ? 'drop_marked' : 'drop_localnet';
    else return;
    const same = s.dport === undefined ? this.byAddress.get(`${family} ${kind} ${chain} ${dest}`) : undefined;
    if (same?.length === 1) dest = same[0]!.destination;
    const service = dest ? (this.byRule.get(`${family} ${kind} ${chain} ${dest}`) ?? this.byDestination.get(dest)) : undefined;
    if (dest && !service) {
      this.problems.unmapped_drop = (this.problems.unmapped_drop ?? 0) + 1;
    }
    const d = { kind, ...(service ? { service } : {}), family, table: 'filter', chain, destination: dest };
    this.drops.push({ ...d, key: dropKey(d), packets: s.packets ?? 0, bytes: s.bytes ?? 0, instance: String(rule.handle) });
  }

  finish(): FilterReading {
    return { drops: this.drops, fingerprint: this.handles.join(','), problems: this.problems, missing: [] };
  }
}
