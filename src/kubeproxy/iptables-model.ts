// The model from iptables-mode rules (either backend), fed rule by rule while the dump streams in.
// Chains map to Services by comment and, where kube-proxy writes none (more than 1000 endpoints: "large
// cluster mode" leaves SEP rules and SVC→SEP jumps bare), by the chain that jumps to them; every SEP chain's
// name is checked against its hash. Names follow pkg/proxy/iptables/proxier.go (v1.29–1.33), and the KUBE-XLB
// chains of releases before 1.24.
import { isEndpointChain, portProtoHash, SERVICE_CHAIN_PREFIXES } from './hash';
import type { ParseSummary } from './iptables-save';
import type { Rule } from './rule';
import { addUnique, destination, ModelSink, own, type DropKind, type DropRule, type Family, type PortRecord, type RulesModel } from './model';
import { Interner } from './interner';

const SUFFIX_KINDS: [suffix: string, kind: DropKind][] = [
  [' has no endpoints', 'reject_no_endpoints'],
  [' has no local endpoints', 'drop_no_local_endpoints'],
];
const NOT_ACCEPTED = ' traffic not accepted by ';
const ENTRY_SUFFIXES = [' cluster IP', ' external IP', ' loadbalancer IP'] as const;

function isServiceChain(chain: string | undefined): boolean {
  if (chain === undefined) return false;
  for (const p of SERVICE_CHAIN_PREFIXES) if (chain.startsWith(p)) return true;
  return false;
}

/** kube-proxy's (or kubelet's) drop and reject rules; null for any other rule. */
export function classifyDrop(r: Rule, family: Family): Omit<DropRule, 'key'> | null {
  const t = r.target;
  if (t !== 'DROP' && t !== 'REJECT' && t !== 'KUBE-MARK-DROP') return null;
  const c = r.comment ?? '';
  let kind: DropKind | undefined;
  let service: string | undefined;
  for (const [suffix, k] of SUFFIX_KINDS) if (c.endsWith(suffix)) [kind, service] = [k, c.slice(0, -suffix.length)];
  if (t === 'KUBE-MARK-DROP' && !kind) return null; // marking only: the DROP is kubelet's KUBE-FIREWALL rule
  if (!kind && c.includes(NOT_ACCEPTED) && t === 'DROP') [kind, service] = ['firewall_drop', c.slice(0, c.indexOf(NOT_ACCEPTED))];
  if (!kind && r.chain === 'KUBE-FORWARD' && r.ctstate && !r.ctstate.negated && r.ctstate.value.split(',').includes('INVALID')) kind = 'drop_invalid';
  if (!kind && r.chain === 'KUBE-FIREWALL' && r.mark && !r.mark.negated) kind = 'drop_marked';
  if (!kind && r.chain === 'KUBE-FIREWALL' && (c === 'block incoming localnet connections' || r.destination?.value === '127.0.0.0/8')) kind = 'drop_localnet';
  if (!kind) return null;
  const p = r.protocol?.value;
  const dest = !service ? '' : r.destination ? destination(r.destination.value, r.dport?.value, p)
    : r.dstType?.value === 'LOCAL' ? destination(undefined, r.dport?.value, p) : '';
  return { kind, ...(service ? { service: own(service) } : {}), family, table: r.table, chain: r.chain, destination: dest, packets: r.packets, bytes: r.bytes };
}

interface Owner {
  service: PortRecord;
  /** one SEP chain's name, recomputed, matched: the chain belongs to this Service */
  confirmed: boolean;
}

/** list[id] = value, filling any gap before it: a far index would turn the array into a dictionary. */
function put<T>(list: (T | undefined)[], id: number, value: T): void {
  while (list.length < id) list.push(undefined);
  list[id] = value;
}

// A dump has a SEP chain per endpoint: each costs an insert and a lookup, and the jumps of one SVC chain, which
// are consecutive, share one owner lookup. Chains are joined by their numbers in the name table the parsers share
// with the builder, in arrays rather than string-keyed maps.
export class IptablesModelBuilder {
  /** the family of the rules fed next: ip6tables-save's dump after iptables-save's */
  family: Family = 'ipv4';
  /** the parsers' name table: their rules' chainId and targetId are numbers in it (see dumps.ts) */
  readonly names = new Interner();
  private readonly sink = new ModelSink();
  /** SEP chain → its DNAT destination */
  private readonly endpoints: (string | undefined)[] = [];
  private seps = 0;
  /** SVC/SVL/EXT/FW chain → Service, from commented rules */
  private readonly owners: (Owner | undefined)[] = [];
  /** jumps between one Service's chains (EXT → SVC, FW → EXT, …), which carry no comment: from, to, … */
  private readonly links: number[] = [];
  /** SVC→SEP jumps seen before their SEP chain or their owner (iptables-save sorts chains, so rarely): sep, parent, … */
  private readonly pending: number[] = [];
  private attached = 0;
  private lastParent = -1;
  private lastOwner: Owner | undefined;
  private chainId = -1;
  private targetId = -1;

  rule(r: Rule): void {
    const drop = r.target === 'DROP' || r.target === 'REJECT' || r.target === 'KUBE-MARK-DROP' ? classifyDrop(r, this.family) : null;
    if (drop) this.drop(r, drop);
    else if (r.table === 'nat') this.nat(r);
    if (!drop && (r.target === 'DROP' || r.target === 'REJECT') && r.chain.startsWith('KUBE-')) this.sink.problem('unclassified_drop', `${r.chain} -j ${r.target}`);
    if (!r.chain.startsWith('KUBE-') && !r.target?.startsWith('KUBE-')) this.sink.problem('foreign_rule', `${r.table} ${r.chain}`);
  }

  private drop(r: Rule, d: Omit<DropRule, 'key'>): void {
    this.sink.drop(d);
    if (!d.service || !r.dport) return;
    const s = this.sink.service(d.service, r.protocol?.value);
    const ip = r.destination?.value;
    if (r.chain === 'KUBE-EXTERNAL-SERVICES' && r.dstType?.value === 'LOCAL') s.nodePort = Number(r.dport.value);
    else if (ip !== undefined) {
      s.port = Number(r.dport.value);
      addUnique(s, r.chain === 'KUBE-SERVICES' ? 'clusterIPs' : r.chain === 'KUBE-PROXY-FIREWALL' ? 'loadBalancerIPs' : 'externalIPs', ip);
    }
  }

  /** The rule's chain and target numbers: the parser's, or looked up (a copied rule, another table). */
  private number(r: Rule): void {
    if (r.names === this.names) {
      this.chainId = r.chainId!;
      this.targetId = r.targetId!;
    } else {
      this.chainId = this.names.idOf(r.chain);
      this.targetId = r.target === undefined ? -1 : this.names.idOf(r.target);
    }
  }

  private nat(r: Rule): void {
    const { chain, comment, target } = r;
    this.number(r);
    if (chain.startsWith('KUBE-SEP-')) {
      if (target === 'DNAT' && r.toDestination !== undefined) {
        if (this.endpoints[this.chainId] === undefined) this.seps++;
        put(this.endpoints, this.chainId, r.toDestination);
      }
    } else if (target?.startsWith('KUBE-SEP-')) {
      const parent = this.chainId;
      let owner = parent === this.lastParent ? this.lastOwner : this.owners[parent];
      const arrow = owner ? -1 : comment?.indexOf(' -> ') ?? -1;
      if (arrow > 0) put(this.owners, parent, (owner = { service: this.sink.service(comment!.slice(0, arrow)), confirmed: false }));
      this.lastParent = parent;
      this.lastOwner = owner;
      if (!owner || !this.attach(this.targetId, owner)) this.pending.push(this.targetId, parent);
    } else if ((chain === 'KUBE-SERVICES' || chain === 'KUBE-NODEPORTS') && comment) {
      this.entry(r, comment);
    } else if (isServiceChain(chain) && isServiceChain(target)) {
      this.links.push(this.chainId, this.targetId);
    }
  }

  /**
   * Adds the SEP chain's endpoint to the owner's Service; false if the SEP chain is unknown yet. One SEP
   * name per parent chain is recomputed (it hashes Service, protocol and endpoint): that confirms the
   * parent's Service; hashing every SEP cost a sixth of the whole read and confirmed nothing more.
   */
  private attach(sep: number, owner: Owner): boolean {
    const endpoint = this.endpoints[sep];
    if (endpoint === undefined) return false;
    const s = owner.service;
    if (!owner.confirmed) {
      const name = this.names.name(sep)!;
      owner.confirmed = isEndpointChain(name, s.name, s.protocol, endpoint);
      if (!owner.confirmed) this.sink.problem('endpoint_hash_mismatch', `${name} is not ${s.name} ${s.protocol} ${endpoint}`);
    }
    // a Service with both traffic policies jumps to its local endpoints from SVC and SVL
    const before = s.endpoints.length;
    addUnique(s, 'endpoints', endpoint);
    if (s.endpoints.length > before) this.attached++;
    return true;
  }

  /** A KUBE-SERVICES or KUBE-NODEPORTS rule: the Service's address, and the owner of the chain it jumps to. */
  private entry(r: Rule, comment: string): void {
    const protocol = r.protocol?.value;
    let s: PortRecord;
    if (r.chain === 'KUBE-NODEPORTS') {
      if (comment.includes(' ') || !r.dport) return;
      s = this.sink.service(comment, protocol);
      s.nodePort = Number(r.dport.value);
    } else {
      let suffix: (typeof ENTRY_SUFFIXES)[number] | undefined;
      for (const x of ENTRY_SUFFIXES) if (comment.endsWith(x)) suffix = x;
      if (!suffix || !r.destination || !r.dport) return;
      s = this.sink.service(comment.slice(0, -suffix.length), protocol);
      s.port = Number(r.dport.value);
      addUnique(s, suffix === ' cluster IP' ? 'clusterIPs' : suffix === ' external IP' ? 'externalIPs' : 'loadBalancerIPs', r.destination.value);
    }
    if (isServiceChain(r.target) && this.owners[this.targetId] === undefined) put(this.owners, this.targetId, { service: s, confirmed: false });
  }

  /** The model, with the parsers' problems added to the model's own. */
  finish(...parsed: ParseSummary[]): RulesModel {
    const { sink, owners, links, pending, names } = this;
    for (let pass = 0; pass < 3; pass++) {
      for (let i = 0; i < links.length; i += 2) {
        const from = owners[links[i]!];
        if (from && !owners[links[i + 1]!]) put(owners, links[i + 1]!, from);
      }
    }
    let byHash: Map<string, Owner> | undefined;
    for (let i = 0; i < pending.length; i += 2) {
      const [sep, parent] = [names.name(pending[i]!)!, names.name(pending[i + 1]!)!];
      const owner = owners[pending[i + 1]!] ?? (byHash ??= this.hashIndex()).get(parent);
      if (!owner) sink.problem('unmapped_endpoint', `${sep} from ${parent}`);
      else if (!this.attach(pending[i]!, owner)) sink.problem('missing_endpoint_chain', `${parent} jumps to ${sep}`);
    }
    // unreferenced SEP chains: large cluster mode deletes them only now and then
    const stale = this.seps - this.attached;
    if (stale > 0) for (let i = 0; i < stale; i++) sink.problem('stale_chain', `${stale} KUBE-SEP chains no rule jumps to`);
    for (const p of parsed) {
      for (const [kind, n] of Object.entries(p.problems)) {
        sink.problems[kind] = (sink.problems[kind] ?? 0) + n;
        sink.examples[kind] ??= p.examples[kind] ?? '';
      }
    }
    return sink.model('iptables');
  }

  /** Chain names of every known Service, for chains no comment names. */
  private hashIndex(): Map<string, Owner> {
    const index = new Map<string, Owner>();
    for (const s of this.sink.services.values()) {
      if (!s.protocol) continue;
      const hash = portProtoHash(s.name, s.protocol);
      for (const prefix of SERVICE_CHAIN_PREFIXES) index.set(prefix + hash, { service: s, confirmed: false });
    }
    return index;
  }
}

