// Evidence: what the correlator remembers of each interval, reduced to what a verdict and an incident need.
// Drops and retransmits keep their Service, direction, mechanism and the two addresses that place them on a
// path (the pod they went to or came from); everything else about a flow is summed away.
import type { NodeInterval } from '../node/interval';
import type { Mechanism } from '../services/attribute';
import type { DnsTrouble } from './dns';
import type { Starvation } from './starvation';
import type { HealthObservation, ListenOverflowObservation } from '../observe/health';
import { hostPort } from '../observe/net';
import { objectKey } from '../observe/objects';

export type EvidenceKind = 'drop' | 'retransmit' | 'listen-overflow' | 'unanswered' | 'rule' | 'cpu-throttle' | 'dns-timeout' | 'dns-error';

export interface EvidenceItem {
  kind: EvidenceKind;
  /** `ns/name` of the Service it was attributed to; '' for none */
  service: string;
  direction: 'to_service' | 'from_service' | 'node' | '';
  /** drops: one, or the two the attribution could not tell apart */
  mechanisms: Mechanism[];
  /** drops: reason name; rules: the rule kind */
  reason: string;
  /** drops: the kernel function */
  location: string;
  /** where, in plain words: `filter/KUBE-SERVICES reject_no_endpoints`, a reason, a pod */
  detail: string;
  /** packet source and destination after DNAT (a pod's address when it went to one); '' when summed away */
  saddr: string;
  daddr: string;
  /** the destination it was sent to: `ip:port` of the ClusterIP before DNAT, or of the packet itself */
  dst: string;
  /** listen overflows: the pod netns's own addresses */
  addrs?: readonly string[];
  /** packets, segments, overflows, flows, throttled CPU periods, late DNS queries or DNS errors */
  count: number;
  /** cpu-throttle: how much the pod was held back against the probe's timeout */
  cpu?: Starvation;
  /** dns-timeout, dns-error: the client's DNS to the server in the window */
  dns?: DnsTrouble;
}

/** An active probe's result, kept per interval for the ClusterIP-vs-pod differential. */
export interface ProbeResult {
  at: number;
  service: string;
  path: NonNullable<HealthObservation['path']>;
  target: string;
  ok: boolean;
}

// Frees that follow from a failure rather than cause it: segments for a socket a timeout already closed (or
// that closed with data unread), a closed port (the application's doing). They stay in the metrics and in an
// incident's evidence, marked as consequences; a verdict never rests on them.
export const AFTERMATH_REASONS: ReadonlySet<string> = new Set([
  'NO_SOCKET', 'SOCKET_CLOSE', 'TCP_CLOSE', 'TCP_RESET', 'TCP_ABORT_ON_DATA', 'TCP_INVALID_SEQUENCE', 'TCP_OLD_SEQUENCE',
  'TCP_INVALID_ACK_SEQUENCE',
]);

export function itemKey(i: EvidenceItem): string {
  return `${i.kind}|${i.service}|${i.direction}|${i.mechanisms.join('+')}|${i.reason}|${i.location}|${i.detail}|${i.saddr}|${i.daddr}|${i.dst}|${i.addrs?.join(',') ?? ''}`;
}

/** The item's packets went to or came from one of these addresses. */
export function touches(i: EvidenceItem, ips: ReadonlySet<string>): boolean {
  return ips.has(i.saddr) || ips.has(i.daddr) || (i.addrs?.some((a) => ips.has(a)) ?? false);
}

/** An item's fields that a kind leaves empty. */
export const NO_ITEM: Omit<EvidenceItem, 'kind' | 'count'> = { service: '', direction: '', mechanisms: [], reason: '', location: '', detail: '', saddr: '', daddr: '', dst: '' };

/** The items of one node interval: loss drops, retransmits, kube-proxy rule rises, flows that died unanswered. */
export function intervalItems(iv: NodeInterval): EvidenceItem[] {
  const items: EvidenceItem[] = [];
  for (const d of iv.drops) {
    if (!d.loss) continue;
    const forward = d.origDst && !d.ct.reply ? d.origDst : { ip: d.tuple.daddr, port: d.tuple.dport };
    items.push({
      ...NO_ITEM,
      kind: 'drop',
      service: d.service ? objectKey(d.service) : '',
      direction: d.direction,
      mechanisms: d.mechanisms,
      reason: d.reasonName,
      location: d.location,
      detail: d.detail,
      saddr: d.tuple.saddr,
      daddr: d.tuple.daddr,
      dst: hostPort(forward),
      count: d.packets,
    });
  }
  for (const r of iv.retransmits) {
    items.push({
      ...NO_ITEM,
      kind: 'retransmit',
      service: r.service ? objectKey(r.service) : '',
      direction: r.direction,
      detail: r.state,
      saddr: r.tuple.saddr,
      daddr: r.tuple.daddr,
      dst: hostPort({ ip: r.tuple.daddr, port: r.tuple.dport }),
      count: r.packets,
    });
  }
  for (const r of iv.rules) {
    const service = r.service ? objectKey(r.service) : '';
    items.push({ ...NO_ITEM, kind: 'rule', service, direction: service ? 'to_service' : 'node', reason: r.kind, detail: `${r.table}/${r.chain} ${r.kind}`, count: r.packets });
  }
  for (const g of iv.diedUnreplied) {
    if (g.daddr === '*') continue;
    const service = g.service ? objectKey(g.service) : '';
    items.push({ ...NO_ITEM, kind: 'unanswered', service, direction: 'to_service', detail: 'flows died unanswered', dst: hostPort({ ip: g.daddr, port: g.dport }), count: g.flows });
  }
  return items;
}

/** Listen-queue overflows of one pod's netns, as evidence on the path to that pod. */
export function overflowItems(o: ListenOverflowObservation, servicesOfPod: (addrs: readonly string[]) => string[]): EvidenceItem[] {
  const count = o.listenOverflows || o.listenDrops;
  if (count <= 0) return [];
  const pod = o.pod ? `${o.pod.namespace}/${o.pod.name}` : `netns ${o.netns}`;
  const services = servicesOfPod(o.addrs);
  return (services.length ? services : ['']).map((service) => ({
    ...NO_ITEM,
    kind: 'listen-overflow' as const,
    service,
    direction: 'to_service' as const,
    detail: `pod ${pod}: ${o.listenOverflows} ListenOverflows, ${o.listenDrops} ListenDrops`,
    addrs: o.addrs,
    count,
  }));
}
