// DNS on a failure's paths. The pods the failure concerns (the checked pod, or through a ClusterIP the Service's pods,
// and the pods of the dependencies its payload names) resolve through a DNS Service: did their queries in the window
// go unanswered for a second (dns-timeout), or were they answered SERVFAIL, or NXDOMAIN with no name found at all
// (dns-error)? Their queries go from the pod to another Service: the evidence lies downstream, and so counts behind
// an HTTP answer too. Drops of those queries (or of their answers) explain a timeout: they go into its evidence and
// never decide alone. Data only: report/ writes the sentence.
import type { NodeInterval } from '../node/interval';
import { RCODE } from '../observe/dns';
import { hostPort, parseHostPort } from '../observe/net';
import { objectKey, type PodRef, type ServiceRef } from '../observe/objects';
import type { AttributedDns, Mechanism } from '../services/attribute';
import type { ServiceIndex } from '../services/index';
import { dependencyEndpoints } from './cascade';
import { NO_ITEM, type EvidenceItem } from './evidence';
import type { PathEvidence, Subject } from './verdict';

/** A query is late once unanswered this long: the kernel's FW_DNS_LATE_NS. */
export const DNS_LATE_MS = 1000;
const DNS_PORT = 53;

/** What the DNS of one client to one server was in a failure's window. */
export interface DnsTrouble {
  /** the client: its pod (`ns/name`) when it is one, else its address */
  client: string;
  queries: number;
  /** unanswered after 1 s, and after 5 s */
  late: number;
  unanswered: number;
  noerror: number;
  nxdomain: number;
  /** NXDOMAIN answered in a sweep that brought the client no NOERROR: names not found, not the search list at work */
  notFound: number;
  servfail: number;
  /** packets of these queries (or their answers) the node dropped, by what dropped them: why they went unanswered */
  dropped: { mechanisms: Mechanism[]; reason: string; location: string; detail: string; count: number }[];
}

interface Kept {
  start: number;
  end: number;
  dns: readonly AttributedDns[];
}

/** The node intervals' DNS, kept for the history, and what it says about one failure. */
export class DnsEvidence {
  private kept: Kept[] = [];

  constructor(private readonly opts: { index: ServiceIndex; historyMs: number; podAt: (ip: string) => PodRef | undefined }) {}

  /** Keeps the DNS of the clients that had trouble or a query in flight: nothing else can be evidence. */
  add(iv: Pick<NodeInterval, 'start' | 'end' | 'dns'>): void {
    const troubled = new Set((iv.dns ?? []).filter(hadTrouble).map((o) => o.clientIp));
    const dns = (iv.dns ?? []).filter((o) => troubled.has(o.clientIp));
    if (dns.length) this.kept.push({ start: iv.start, end: iv.end, dns });
    const cut = iv.end - this.opts.historyMs;
    if (this.kept.length && this.kept[0]!.end < cut) this.kept = this.kept.filter((k) => k.end >= cut);
  }

  /**
   * Whether a window ending at `to` can be judged now that the intervals cover `covered`: a query still in flight
   * at its end, from one of `clients`, is late only a second later, so then the judgement waits for the interval
   * that counts it (or says so).
   */
  settled(to: number, covered: number, clients: () => ReadonlySet<string>): boolean {
    const at = this.kept.find((k) => k.start < to && to <= k.end);
    if (!at || covered >= to + DNS_LATE_MS + (at.end - at.start)) return true;
    const inFlight = at.dns.filter((o) => o.pending > 0);
    if (!inFlight.length) return true;
    const mine = clients();
    return !inFlight.some((o) => mine.has(o.clientIp));
  }

  /**
   * The DNS evidence of a failure whose window is (from, to]: one item per client and server that had trouble, and
   * `items` without the drops that item took in as its explanation.
   */
  judge(window: { from: number; to: number }, clients: ReadonlySet<string>, items: readonly EvidenceItem[]): { placed: PathEvidence[]; items: EvidenceItem[] } {
    const byPair = new Map<string, { o: AttributedDns; t: DnsTrouble }>();
    // NXDOMAIN for every name a lookup tried is a name not found; NXDOMAIN beside NOERROR is the search list at work.
    // Judged sweep by sweep: a window around a fault's start or end holds the NOERROR of before or after it.
    for (const k of this.kept) {
      const found = new Set<string>();
      for (const o of k.dns) if (o.answers.get(RCODE.NOERROR)) found.add(o.clientIp);
      // a late query was sent a second before the sweep that counted it; an answer came when it was counted
      const sentInWindow = k.start - DNS_LATE_MS < window.to && k.end - DNS_LATE_MS > window.from;
      const answeredInWindow = k.start < window.to && k.end > window.from;
      if (!sentInWindow && !answeredInWindow) continue;
      for (const o of k.dns) {
        if (!clients.has(o.clientIp)) continue;
        const key = `${o.clientIp}|${hostPort(o.server)}|${o.service ? objectKey(o.service) : ''}`;
        const pair = byPair.get(key) ?? byPair.set(key, { o, t: { client: this.clientName(o.clientIp), queries: 0, late: 0, unanswered: 0, noerror: 0, nxdomain: 0, notFound: 0, servfail: 0, dropped: [] } }).get(key)!;
        if (sentInWindow) {
          pair.t.late += o.late;
          pair.t.unanswered += o.unanswered;
        }
        if (answeredInWindow) {
          pair.t.queries += o.queries;
          pair.t.noerror += o.answers.get(RCODE.NOERROR) ?? 0;
          pair.t.nxdomain += o.answers.get(RCODE.NXDOMAIN) ?? 0;
          if (!found.has(o.clientIp)) pair.t.notFound += o.answers.get(RCODE.NXDOMAIN) ?? 0;
          pair.t.servfail += o.answers.get(RCODE.SERVFAIL) ?? 0;
        }
      }
    }
    const placed: PathEvidence[] = [];
    const absorbed = new Set<EvidenceItem>();
    for (const { o, t } of byPair.values()) {
      const service = o.service ? objectKey(o.service) : '';
      const base = { ...NO_ITEM, path: 'downstream' as const, service, direction: 'to_service' as const, detail: t.client, saddr: o.clientIp, dst: hostPort(o.server) };
      if (t.late > 0) {
        for (const d of items) {
          if (d.kind !== 'drop' || !onTheWay(d, o.clientIp, service)) continue;
          absorbed.add(d);
          const same = t.dropped.find((x) => x.mechanisms.join() === d.mechanisms.join() && x.reason === d.reason && x.location === d.location && x.detail === d.detail);
          if (same) same.count += d.count;
          else t.dropped.push({ mechanisms: d.mechanisms, reason: d.reason, location: d.location, detail: d.detail, count: d.count });
        }
        placed.push({ ...base, kind: 'dns-timeout', count: t.late, dns: t });
      }
      const errors = t.servfail + t.notFound;
      if (errors > 0) placed.push({ ...base, kind: 'dns-error', count: errors, dns: t });
    }
    return { placed, items: absorbed.size ? items.filter((i) => !absorbed.has(i)) : [...items] };
  }

  private clientName(ip: string): string {
    const pod = this.opts.podAt(ip);
    return pod ? objectKey(pod) : ip;
  }
}

function hadTrouble(o: AttributedDns): boolean {
  return o.late + o.unanswered + o.pending + (o.answers.get(RCODE.SERVFAIL) ?? 0) + (o.answers.get(RCODE.NXDOMAIN) ?? 0) > 0;
}

/**
 * A query lost on its way from the client to port 53, or an answer on its way back from the DNS Service. Not an
 * answer the client's socket freed unsaid (NOT_SPECIFIED: it closed, having given up), which follows the timeout.
 */
function onTheWay(d: EvidenceItem, client: string, service: string): boolean {
  if (d.saddr === client) return parseHostPort(d.dst)?.port === DNS_PORT;
  return d.daddr === client && !!service && d.service === service && d.direction === 'from_service' && d.reason !== 'NOT_SPECIFIED';
}

/**
 * Whose DNS a failure concerns: the checked pod's addresses (through a ClusterIP, every pod of the Service), and the
 * pods of the dependencies the failure names.
 */
export function dnsClients(subject: Subject, failure: { failedDependencies?: string[]; service?: ServiceRef }, index: ServiceIndex): Set<string> {
  const clients = new Set([...subject.addrs, ...(subject.viaService ? subject.endpoints : [])]);
  for (const e of dependencyEndpoints(failure, index)) clients.add(e.ip);
  return clients;
}
