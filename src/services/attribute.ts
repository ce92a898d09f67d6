// Attribution: every drop and retransmit gets a Service, a direction, and (drops) the mechanism that lost it.
// The witnesses, per docs/kernel.md: the drop reason and location, the skb's conntrack entry (present?
// confirmed? DNATed?), the conntrack stat deltas of the same interval, and which kube-proxy drop/reject rule
// counters rose. Where they cannot tell two mechanisms apart, both are named.
import type { RuleRise } from '../kubeproxy/rises';
import type { ConnectionObservation, DropObservation, RetransmitObservation } from '../observe/kernel';
import { protocolOf, type Address } from '../observe/net';
import type { CpuThrottleObservation } from '../observe/cpu';
import type { DnsObservation } from '../observe/dns';
import { parseObjectKey, servicePortName, type PodRef, type ServicePort, type ServiceRef, type Workload } from '../observe/objects';
import type { ServiceIndex } from './index';

export type Direction = 'to_service' | 'from_service' | 'node';
export const MECHANISMS = [
  'no-endpoints',
  'conntrack-insert-failed',
  'conntrack-table-full',
  'conntrack-invalid',
  'netfilter-drop',
  'kernel-drop',
] as const;
export type Mechanism = (typeof MECHANISMS)[number];

/** What else the node saw in the interval the drops were drained from. */
export interface IntervalEvidence {
  /** the netns whose conntrack stats and rules these are: the node's (the daemon's own) */
  netns: number;
  /** conntrack stat deltas over the interval; {} when conntrack could not be read */
  conntrack: Partial<Record<'drop' | 'invalid' | 'insert_failed', number>>;
  /** kube-proxy drop/reject rules whose counters rose in the interval */
  rules: RuleRise[];
  /**
   * where this node's kube-proxy rule verdicts land: nft_do_chain (iptables-nft, nftables mode) or
   * nf_hook_slow (iptables-legacy); absent when unknown. With nft-based rules, a drop in nf_hook_slow is
   * not a rule's: conntrack (or another non-nft hook) refused the packet.
   */
  ruleLocation?: 'nft_do_chain' | 'nf_hook_slow';
  /**
   * the previous interval's witnesses: a drop freed after that interval's drain but before its reads had
   * its stat and rule counter counted there; looked at only when this interval has none
   */
  before?: Pick<IntervalEvidence, 'conntrack' | 'rules'>;
}

export interface Attribution {
  service: ServicePort | null;
  direction: Direction;
  /** to a Service: the workload on this node that sent the packet (a pod's, or the node's own), when known */
  client?: Workload;
}

/** The workload on this node an address is, for the service graph's edges; undefined for any other address. */
export type ClientOf = (ip: string) => Workload | undefined;

export interface AttributedDrop extends DropObservation, Attribution {
  /** one mechanism, or the two the evidence could not tell apart */
  mechanisms: Mechanism[];
  /** where, in kube-proxy's terms when known: `filter/KUBE-SERVICES reject_no_endpoints`, or the reason */
  detail: string;
}

export type AttributedRetransmit = RetransmitObservation & Attribution;

/** Conntrack flows grouped by their original destination, with the Service it is. */
export type AttributedGroup<G extends { daddr: string; dport: number; proto: number }> = G & { service: ServicePort | null };

/** Service and direction of a packet from its addresses (and, for drops, the pre-DNAT destination). */
export function attribute(
  index: ServiceIndex,
  t: { saddr: string; daddr: string; sport: number; dport: number; proto: number },
  orig?: Address | null,
  clientOf?: ClientOf,
): Attribution {
  const proto = protocolOf(t.proto);
  if (!proto) return { service: null, direction: 'node' };
  const to = (orig && index.byVip(orig.ip, orig.port, proto)) || index.serviceAt(t.daddr, t.dport, proto);
  if (to) {
    const client = clientOf?.(t.saddr);
    return { service: to, direction: 'to_service', ...(client && { client }) };
  }
  const from = index.byEndpoint(t.saddr, t.sport, proto) || index.byVip(t.saddr, t.sport, proto);
  if (from) return { service: from, direction: 'from_service' };
  return { service: null, direction: 'node' };
}

function rulesRose(ev: Pick<IntervalEvidence, 'rules'>, kind: string, service?: ServicePort): RuleRise[] {
  const same = (r: RuleRise) => !!r.service && r.service.namespace === service!.namespace && r.service.name === service!.name && r.service.portName === service!.portName;
  return ev.rules.filter((r) => r.kind === kind && (service === undefined || same(r)));
}

const where = (rules: RuleRise[]) => rules.map((r) => `${r.table}/${r.chain} ${r.kind}`).join(', ');

function mechanism(d: DropObservation, a: Attribution, ev: IntervalEvidence): { mechanisms: Mechanism[]; detail: string } {
  if (d.reasonName !== 'NETFILTER_DROP') return { mechanisms: ['kernel-drop'], detail: d.reasonName };
  // stat deltas and rule counters are the node's: they witness only drops in the node's netns
  const node = d.netns === ev.netns;
  const ct = node ? ev.conntrack : {};
  const fn = d.location;

  if (!d.ct.present) {
    // no entry: conntrack refused the packet (table full) or called it INVALID and a rule dropped it
    const witnesses = (w: Pick<IntervalEvidence, 'conntrack' | 'rules'>) => {
      const rules = rulesRose(w, 'drop_invalid');
      return { full: (w.conntrack.drop ?? 0) > 0, invalidRules: rules, invalid: (w.conntrack.invalid ?? 0) > 0 || rules.length > 0 };
    };
    let w = node ? witnesses({ conntrack: ct, rules: ev.rules }) : { full: false, invalidRules: [], invalid: false };
    if (node && !w.full && !w.invalid && ev.before) w = witnesses(ev.before);
    const { full, invalidRules, invalid } = w;
    const byLocation = node && ev.ruleLocation === 'nft_do_chain' && (fn === 'nf_hook_slow' || fn === 'nft_do_chain');
    if (byLocation && fn === 'nf_hook_slow' && full) return { mechanisms: ['conntrack-table-full'], detail: 'conntrack table full (stat drop rose; dropped at the conntrack hook, not by a rule)' };
    if (byLocation && fn === 'nft_do_chain') {
      return invalid
        ? { mechanisms: ['conntrack-invalid'], detail: where(invalidRules) || 'a rule dropped an untracked packet (stat invalid rose)' }
        : { mechanisms: ['netfilter-drop'], detail: `${fn}: a rule dropped a packet conntrack did not track` };
    }
    if (full && !invalid) return { mechanisms: ['conntrack-table-full'], detail: 'conntrack table full (stat drop rose)' };
    if (invalid && !full) return { mechanisms: ['conntrack-invalid'], detail: where(invalidRules) || 'ctstate INVALID (stat invalid rose)' };
    if (full && invalid) return { mechanisms: ['conntrack-table-full', 'conntrack-invalid'], detail: 'both conntrack stats drop and invalid rose' };
    // no witness: in nf_hook_slow conntrack itself is the likely dropper, in nft_do_chain a rule on an untracked packet
    return fn === 'nft_do_chain'
      ? { mechanisms: ['conntrack-invalid', 'netfilter-drop'], detail: `${fn}: a rule dropped a packet conntrack did not track` }
      : { mechanisms: ['conntrack-table-full', 'conntrack-invalid'], detail: `${fn}: no conntrack entry and no stat witness` };
  }

  const svc = a.service;
  if (svc && a.direction === 'to_service' && !d.ct.dnat && !d.ct.confirmed) {
    // sent to the ClusterIP and never DNATed: kube-proxy had no endpoint to send it to
    const rejects = node ? rulesRose(ev, 'reject_no_endpoints', svc) : [];
    if (rejects.length > 0 || svc.endpoints.length === 0) {
      return { mechanisms: ['no-endpoints'], detail: where(rejects) || `${servicePortName(svc)} has no endpoints` };
    }
  }
  if (!d.ct.confirmed && (ct.insert_failed ?? 0) > 0 && fn !== 'nft_do_chain') {
    return { mechanisms: ['conntrack-insert-failed'], detail: 'conntrack insert failed (stat insert_failed rose)' };
  }
  const rules = node ? ev.rules.filter((r) => r.kind !== 'reject_no_endpoints') : [];
  return { mechanisms: ['netfilter-drop'], detail: where(rules) || `a rule verdict in ${fn}` };
}

export function attributeDrop(index: ServiceIndex, d: DropObservation, ev: IntervalEvidence, clientOf?: ClientOf): AttributedDrop {
  // a reply's conntrack original destination is the other side's: only forward packets use it
  const a = attribute(index, d.tuple, d.ct.reply ? null : d.origDst, clientOf);
  return { ...d, ...a, ...mechanism(d, a, ev) };
}

export function attributeRetransmit(index: ServiceIndex, r: RetransmitObservation, clientOf?: ClientOf): AttributedRetransmit {
  // a SYN-ACK retransmitted by a listener is the server's: no client of this node sent it
  return { ...r, ...attribute(index, r.tuple, null, r.synack ? undefined : clientOf) };
}

export type AttributedConnection = ConnectionObservation & Attribution;

const IPPROTO_TCP = 6;

/** A client's connects: to the Service at their destination (the ClusterIP the socket saw), from its workload. */
export function attributeConnection(index: ServiceIndex, c: ConnectionObservation, clientOf?: ClientOf): AttributedConnection {
  return { ...c, ...attribute(index, { saddr: c.saddr, daddr: c.dst.ip, sport: 0, dport: c.dst.port, proto: IPPROTO_TCP }, null, clientOf) };
}

/** A pod's CPU throttling, with the Services the pod backs (an endpoint of each). */
export type AttributedThrottle = CpuThrottleObservation & { services: ServiceRef[] };

export function attributeThrottle(index: ServiceIndex, o: CpuThrottleObservation, ipsOf: (pod: PodRef) => readonly string[]): AttributedThrottle {
  return { ...o, services: o.pod ? index.servicesOf(ipsOf(o.pod)).map(parseObjectKey) : [] };
}

/** A client's DNS to a server: the DNS Service the server is (its ClusterIP, or an endpoint of it), the client's workload. */
export type AttributedDns = DnsObservation & Pick<Attribution, 'client'> & { service: ServicePort | null };

export function attributeDns(index: ServiceIndex, o: DnsObservation, clientOf?: ClientOf): AttributedDns {
  const client = clientOf?.(o.clientIp);
  return { ...o, service: index.serviceAt(o.server.ip, o.server.port, o.proto) ?? null, ...(client && { client }) };
}

export function attributeGroup<G extends { daddr: string; dport: number; proto: number }>(index: ServiceIndex, g: G): AttributedGroup<G> {
  const proto = protocolOf(g.proto);
  return { ...g, service: (proto && index.serviceAt(g.daddr, g.dport, proto)) || null };
}
