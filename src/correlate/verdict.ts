// The verdict for one health-check failure: which evidence lies on its paths in its window, and which
// mechanism explains it, most specific first (docs/verdicts.md).
//
// The paths of a failure of pod P behind Service S:
// - the probe's own path: packets to or from P's addresses (kubelet probes go straight to the pod);
// - the Service's path: evidence attributed to S itself that no pod address places elsewhere (a REJECT for S,
//   a table-full drop at S's ClusterIP) — it counts for probes that went through the ClusterIP;
// - downstream: packets from P to another Service D (P's /health calls D): the failure names D.
// An HTTP answer proves the probe's own path delivered: then only downstream evidence can explain it.
import type { HealthObservation } from '../observe/health';
import { MECHANISMS, type Mechanism } from '../services/attribute';
import { AFTERMATH_REASONS, touches, type EvidenceItem } from './evidence';

export const VERDICTS = [...MECHANISMS, 'listen-overflow', 'retransmits', 'dns-timeout', 'dns-error', 'cpu-throttled', 'none'] as const;
export type Verdict = (typeof VERDICTS)[number];

export type PathKind = 'probe' | 'service' | 'downstream';

/** One dropped packet of an evidence item, sampled by the tracer. */
export interface PacketExample {
  /** ms since the epoch */
  at: number;
  /** `ip:port` */
  from: string;
  to: string;
  /** the destination it was sent to before DNAT, when conntrack knew it */
  sentTo?: string;
  len: number;
}

export interface PathEvidence extends EvidenceItem {
  path: PathKind;
  /** follows from the failure rather than causing it (a late reply to a probe that gave up): never decides */
  consequence?: boolean;
  /** retransmits: the destination is an address of this host, so nothing was lost between nodes */
  onHost?: boolean;
  /** another node's evidence, as its flapwatch answered: that node's name */
  node?: string;
  /** drops: a few of the packets themselves, as the tracer sampled them in the window */
  examples?: PacketExample[];
}

export interface Subject {
  /** `ns/name` of the Services the failing check speaks for */
  services: ReadonlySet<string>;
  /** the addresses of the pod that was checked (its own: not a hostNetwork pod's); empty when unknown */
  addrs: ReadonlySet<string>;
  /** exact destinations checked (`ip:port`), where the address alone would say too much (a URL, a host port) */
  dsts: ReadonlySet<string>;
  /** the address the check was sent to: the network namespace that owns it is the one whose accept queue matters */
  probed: ReadonlySet<string>;
  /** the check went through a ClusterIP (an active cluster_ip probe, a URL to a VIP) */
  viaService: boolean;
  /** the Services' endpoints, when the check went through a ClusterIP: any of them may have answered it */
  endpoints: ReadonlySet<string>;
}

export interface Judgement {
  verdict: Verdict;
  /** the node whose evidence decided, when it is another node's */
  node?: string;
  /** what the verdict rests on first, then everything else found on the paths, largest first */
  evidence: PathEvidence[];
  /** the Services downstream that the evidence names */
  downstream: string[];
}

function pathOf(i: EvidenceItem, s: Subject): PathKind | undefined {
  const mine = s.services.has(i.service);
  // from the pod (or, through a ClusterIP, any of the Service's pods) to another Service: a call to a dependency
  if (!mine && i.service && i.kind !== 'listen-overflow' && (s.addrs.has(i.saddr) || s.endpoints.has(i.saddr))) return 'downstream';
  if ((s.addrs.size && touches(i, s.addrs)) || s.dsts.has(i.dst)) return 'probe';
  if (i.kind === 'listen-overflow' && i.addrs?.some((a) => s.probed.has(a))) return 'probe';
  if (mine && s.viaService) return 'service';
  return undefined;
}

// A kernel drop whose reason the kernel left unspecified says least of all: a cause with a name (a full accept
// queue, loss beyond the node, DNS, CPU starvation) goes before it; the TCP stack discarding a segment of a closing
// connection (tcp_v4_rcv, a TIME_WAIT socket) is what a probe that gave up leaves behind. Mechanisms keep the
// verdict order otherwise. Behind an HTTP answer it decides nothing: downstream, it is the aftermath of an earlier
// connection, which cannot make the application answer 503.
const UNSPECIFIED_RANK = VERDICTS.indexOf('cpu-throttled') + 0.5;

const TCP_RECEIVE = /^tcp_v[46]_rcv$/;

/** A socket in these states has sent its FIN: what it retransmits then, the exchange no longer waits for. */
const CLOSING_STATES: ReadonlySet<string> = new Set(['FIN_WAIT1', 'CLOSING', 'LAST_ACK']);

/**
 * A free that follows from the failure on its own connection: the aftermath reasons anywhere, and on the probe's
 * path (or, through a ClusterIP, the Service's) a segment from the checked side that TCP discarded without naming
 * why (tcp_v4_rcv: the probe's socket had already given up and closed when a slow pod's reply came). A retransmit
 * of a closing socket too: a prober that gave up sends its FIN to a pod too slow to acknowledge it.
 */
function isConsequence(i: EvidenceItem, path: PathKind, s: Subject): boolean {
  if (i.kind === 'retransmit') return CLOSING_STATES.has(i.detail);
  if (i.kind !== 'drop') return false;
  if (AFTERMATH_REASONS.has(i.reason)) return true;
  const fromChecked = s.addrs.has(i.saddr) || s.probed.has(i.saddr);
  return (path === 'probe' || path === 'service') && fromChecked && i.reason === 'NOT_SPECIFIED' && TCP_RECEIVE.test(i.location);
}

function rank(i: PathEvidence): number {
  if (i.consequence) return VERDICTS.length + 1;
  if (i.kind === 'drop' && i.reason === 'NOT_SPECIFIED' && i.mechanisms.join() === 'kernel-drop') return UNSPECIFIED_RANK;
  if (i.kind === 'drop') return Math.min(...i.mechanisms.map((m) => MECHANISMS.indexOf(m)));
  if (i.kind === 'listen-overflow') return VERDICTS.indexOf('listen-overflow');
  if (i.kind === 'retransmit') return VERDICTS.indexOf('retransmits');
  if (i.kind === 'dns-timeout' || i.kind === 'dns-error') return VERDICTS.indexOf(i.kind);
  if (i.kind === 'cpu-throttle') return VERDICTS.indexOf('cpu-throttled');
  return VERDICTS.length; // rules and unanswered flows support a verdict, never make one
}

function verdictOf(i: PathEvidence): Verdict {
  return rank(i) === UNSPECIFIED_RANK ? 'kernel-drop' : (VERDICTS[rank(i)] ?? 'none');
}

/** `placed`: evidence already placed on a path (other nodes' answers, CPU starvation of the checked pods, their DNS). */
export function judge(failure: Pick<HealthObservation, 'kind'>, subject: Subject, items: Iterable<EvidenceItem>, placed: readonly PathEvidence[] = []): Judgement {
  const answered = failure.kind === 'http-status';
  const found: PathEvidence[] = [];
  for (const i of items) {
    const path = pathOf(i, subject);
    if (!path || (answered && path !== 'downstream')) continue;
    found.push({ ...i, path, ...(isConsequence(i, path, subject) && { consequence: true }) });
  }
  for (const e of placed) if (!answered || e.path === 'downstream') found.push(e);
  // sum what differs only by time bucket
  const byKey = new Map<string, PathEvidence>();
  for (const e of found) {
    const key = `${e.node ?? ''}|${e.path}|${e.kind}|${e.service}|${e.mechanisms.join('+')}|${e.reason}|${e.location}|${e.detail}|${e.dst}|${e.daddr}|${e.consequence ?? false}`;
    const seen = byKey.get(key);
    if (seen) seen.count += e.count;
    else byKey.set(key, { ...e });
  }
  const evidence = [...byKey.values()].sort((a, b) => rank(a) - rank(b) || b.count - a.count);
  const decides = (e: PathEvidence) => rank(e) < VERDICTS.length && !(answered && rank(e) === UNSPECIFIED_RANK);
  const top = evidence.find(decides);
  const verdict: Verdict = top ? verdictOf(top) : 'none';
  const downstream = [...new Set(evidence.filter((e) => e.path === 'downstream' && decides(e) && e.service).map((e) => e.service))];
  return { verdict, ...(top?.node && { node: top.node }), evidence, downstream };
}

export type { Mechanism };
