// The correlator: keeps the evidence timeline, and judges every health-check failure once the evidence of its
// window is in (drops reach user space an interval late): one incident per failure, however many sources
// reported it. It only reads what the sources and the index hand it; reporters only format what it emits.
import type { NodeInterval } from '../node/interval';
import type { HealthObservation, HealthSource, ListenOverflowObservation, ProbePath } from '../observe/health';
import { Listeners } from '../observe/listeners';
import { hostPort, type Protocol } from '../observe/net';
import type { CpuThrottleObservation } from '../observe/cpu';
import type { DropSampleObservation } from '../observe/kernel';
import { objectKey, parseObjectKey, type PodLookup, type PodRef, type ServiceRef } from '../observe/objects';
import type { ServiceIndex } from '../services/index';
import { intervalItems, NO_ITEM, overflowItems, touches, type EvidenceItem } from './evidence';
import type { Incident, PathResults } from './incident';
import { cascadeOf, dependenciesOf, dependencyEndpoints } from './cascade';
import { DnsEvidence, dnsClients } from './dns';
import { asksFor, remoteEvidence, type AskPeers, type PeerReply } from './remote';
import { Timeline } from './timeline';
import { judgeStarvation } from './starvation';
import { judge, type PacketExample, type PathEvidence, type PathKind, type Subject, type Verdict } from './verdict';

export interface CorrelatorOptions {
  index: ServiceIndex;
  /** this node's pods (none in standalone mode) */
  pods: PodLookup;
  /** how far after a failure evidence still counts (the packets of a timed-out probe may be dropped late) */
  slackMs: number;
  /** judge anyway this long after a window's end when the evidence does not come (kernel sources down) */
  maxWaitMs: number;
  /** a source that reports failures late adds its delay to the window's start */
  sourceDelayMs?: Partial<Record<HealthSource, number>>;
  /** a source whose times are rounded down (Events: whole seconds) adds the rounding to the window's end */
  sourcePrecisionMs?: Partial<Record<HealthSource, number>>;
  /**
   * how often listen-queue overflows are read, when they are: an overflow counted at a scan happened up to
   * this long before it, so judgements wait for the scan after their window and reach that far past it
   */
  listenIntervalMs?: number;
  /** how often pods' CPU throttling is read, when it is: judgements wait for the read after their window */
  cpuIntervalMs?: number;
  /**
   * asks the polled sources (overflows, CPU) for a read that covers `at`: another node's question about a window
   * must not wait for their next scan, which its asker's timeout does not outlast
   */
  readBy?: (at: number) => void;
  historyMs: number;
  /** whether an address belongs to a network namespace of this host */
  onHost?: (ip: string) => boolean;
  /** this node's name: incidents say which node's evidence decided */
  node?: string;
  /** asks other nodes' flapwatch about their pods (correlate/remote.ts); without it each node judges alone */
  askPeers?: AskPeers;
  /** most nodes asked about one failure */
  maxPeers?: number;
  maxItemsPerInterval: number;
  maxIncidents: number;
  now?: () => number;
  onError: (err: unknown) => void;
}

/** Each failure observation with the verdict of its incident: what flapwatch_health_failures_total counts. */
export interface JudgedFailure {
  observation: HealthObservation;
  incident: Incident;
}

interface Pending {
  obs: HealthObservation;
  from: number;
  to: number;
  extra: HealthObservation[];
}

/** What a failure is judged on, kept while other nodes are asked. */
interface Case {
  p: Pending;
  subject: Subject;
  items: EvidenceItem[];
  /** the observation that says most of how the check failed */
  told: HealthObservation;
  incomplete: boolean;
}

const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];
/** sampled packets shown per evidence item */
const EXAMPLES = 3;
/** a check whose source does not say how long it waited: kubelet's default probe timeout */
const DEFAULT_TIMEOUT_MS = 1000;
/** a dependency's failures this close to a failure belong to the same cascade */
const CASCADE_HORIZON_MS = 60_000;

export class Correlator {
  private readonly timeline: Timeline;
  private readonly incidentListeners: Listeners<Incident>;
  private readonly failureListeners: Listeners<JudgedFailure>;
  private pending: Pending[] = [];
  /** judged, waiting for other nodes' answers */
  private asking: Pending[] = [];
  private readonly recent: Incident[] = [];
  private nextId = 1;
  private listenCovered = -Infinity;
  /** pods' CPU throttling, as read, newest last; kept for the history */
  private throttles: CpuThrottleObservation[] = [];
  /** the tracer's sampled drops, newest last, at most maxItemsPerInterval */
  private samples: DropSampleObservation[] = [];
  private cpuCovered = -Infinity;
  private readonly dns: DnsEvidence;

  constructor(private readonly opts: CorrelatorOptions) {
    this.timeline = new Timeline({ historyMs: opts.historyMs, maxItems: opts.maxItemsPerInterval, maxProbes: opts.maxItemsPerInterval });
    this.dns = new DnsEvidence({ index: opts.index, historyMs: opts.historyMs, podAt: (ip) => opts.index.podAt(ip) ?? opts.pods.podByIp(ip) });
    this.incidentListeners = new Listeners(opts.onError);
    this.failureListeners = new Listeners(opts.onError);
  }

  /** New incidents, once each. */
  onIncident(listener: (incidents: Incident[]) => void): () => void {
    return this.incidentListeners.add(listener);
  }

  /** Every failure observation, when judged (several may share one incident). */
  onFailure(listener: (failures: JudgedFailure[]) => void): () => void {
    return this.failureListeners.add(listener);
  }

  addInterval(iv: NodeInterval): void {
    this.timeline.add(iv.start, iv.end, intervalItems(iv));
    this.dns.add(iv);
    this.judgeReady(this.now());
  }

  /** One scan's overflows (possibly none): `scannedAt` says the evidence is complete up to then. */
  addListenOverflows(list: ListenOverflowObservation[], scannedAt: number): void {
    for (const o of list) for (const item of overflowItems(o, (addrs) => this.opts.index.servicesOf(addrs))) this.timeline.addItem(o.at, item);
    this.listenCovered = Math.max(this.listenCovered, scannedAt);
    this.judgeReady(this.now());
  }

  /** Dropped packets the tracer sampled: examples for the evidence of the incidents they fall in. */
  addSamples(list: DropSampleObservation[]): void {
    this.samples.push(...list);
    const over = this.samples.length - this.opts.maxItemsPerInterval;
    if (over > 0) this.samples.splice(0, over);
  }

  /** One read's throttled pods (possibly none): `readAt` says the evidence is complete up to then. */
  addCpuThrottles(list: CpuThrottleObservation[], readAt: number): void {
    this.throttles.push(...list);
    const cut = readAt - this.opts.historyMs;
    if (this.throttles.length && this.throttles[0]!.at < cut) this.throttles = this.throttles.filter((o) => o.at >= cut);
    this.cpuCovered = Math.max(this.cpuCovered, readAt);
    this.judgeReady(this.now());
  }

  addHealth(list: HealthObservation[]): void {
    for (const obs of list) {
      if (obs.source === 'active' && obs.service && obs.path) {
        this.timeline.addProbe({ at: obs.at, service: objectKey(obs.service), path: obs.path, target: obs.target ? hostPort(obs.target) : '', ok: obs.ok });
      }
      if (obs.ok) continue;
      if (this.mergeIntoRecent(obs)) continue;
      // a failure being judged (its nodes asked) still takes the other reports of it
      const same = [...this.pending, ...this.asking].find((p) => sameCheck(p.obs, obs) && !sourcesOf(p).includes(obs.source) && obs.at >= p.from && obs.at <= p.to + obs.lookbackMs);
      if (same) {
        same.extra.push(obs);
        continue;
      }
      const delay = this.opts.sourceDelayMs?.[obs.source] ?? 0;
      this.pending.push({ obs, from: obs.at - obs.lookbackMs - delay, to: this.windowEnd(obs), extra: [] });
    }
    this.judgeReady(this.now());
  }

  /** Where a failure's window ends: evidence up to then may explain it. */
  windowEnd(obs: HealthObservation): number {
    return obs.at + (this.opts.sourcePrecisionMs?.[obs.source] ?? 0) + this.opts.slackMs;
  }

  /** Judges failures whose evidence is complete, or overdue; call on a timer too, for when intervals stop. */
  judgeReady(now: number): void {
    const covered = this.timeline.coveredUntil;
    const listen = this.opts.listenIntervalMs;
    const cpu = this.opts.cpuIntervalMs;
    const complete = (p: Pending) => covered >= p.to && (listen === undefined || this.listenCovered >= p.to) && (cpu === undefined || this.cpuCovered >= p.to)
      && this.dns.settled(p.to, covered, () => dnsClients(this.subjectOf(p.obs), p.obs, this.opts.index));
    const ready = this.pending.filter((p) => complete(p) || now >= p.to + this.opts.maxWaitMs);
    if (!ready.length) return;
    this.pending = this.pending.filter((p) => !ready.includes(p));
    const judged: [Pending, Incident][] = [];
    for (const p of ready) {
      const c = this.caseOf(p, !complete(p));
      const local = this.incidentOf(c);
      const { asks, paths } = this.opts.askPeers && this.opts.node
        ? asksFor(local.evidence, this.opts.index, this.opts.node, this.opts.maxPeers ?? 5)
        : { asks: [], paths: new Map() };
      if (!asks.length) {
        judged.push([p, local]);
        continue;
      }
      this.asking.push(p);
      void this.opts.askPeers!(asks, { from: p.from, to: p.to }).then(
        (replies) => this.incidentOf(c, replies, paths),
        () => local, // askPeers never rejects; should it, the local judgement stands
      ).then((incident) => {
        this.asking = this.asking.filter((x) => x !== p);
        this.publish([[p, incident]]);
      });
    }
    this.publish(judged);
  }

  private publish(judged: [Pending, Incident][]): void {
    if (!judged.length) return;
    const incidents = judged.map(([, i]) => i);
    const depsOf = (i: Incident) => dependenciesOf(i, this.opts.index);
    for (const i of incidents) {
      i.id = this.nextId++;
      const deps = depsOf(i);
      if (!deps.length) continue;
      i.dependencies = deps;
      const cascade = cascadeOf(i, deps, this.recent, depsOf, CASCADE_HORIZON_MS);
      if (cascade) i.cascade = cascade;
    }
    const failures = judged.flatMap(([p, incident]) => [p.obs, ...p.extra].map((observation) => ({ observation, incident })));
    this.recent.push(...incidents);
    if (this.recent.length > this.opts.maxIncidents) this.recent.splice(0, this.recent.length - this.opts.maxIncidents);
    this.incidentListeners.emit(incidents);
    this.failureListeners.emit(failures);
  }

  /** Newest first; for one Service when given. */
  incidents(filter: { service?: ServiceRef; limit?: number } = {}): Incident[] {
    const key = filter.service && objectKey(filter.service);
    const list = this.recent.filter((i) => !key || (i.service && objectKey(i.service) === key) || i.downstream.includes(key));
    return list.reverse().slice(0, filter.limit ?? 100);
  }

  /** What the timeline holds for one Service now: evidence by kind and mechanism, probe results by path. */
  serviceEvidence(service: ServiceRef): { from: number; to: number; evidence: { kind: string; what: string; count: number }[]; probes: Partial<Record<ProbePath, PathResults>> } {
    const key = objectKey(service);
    const to = this.timeline.coveredUntil;
    const from = to - this.opts.historyMs;
    const sums = new Map<string, { kind: string; what: string; count: number }>();
    const buckets = this.timeline.between(from, to);
    for (const b of buckets) {
      for (const i of b.items.values()) {
        if (i.service !== key) continue;
        const what = i.kind === 'drop' ? `${i.mechanisms.join('+')} ${i.reason} ${i.direction}` : `${i.detail} ${i.direction}`.trim();
        const k = `${i.kind}|${what}`;
        const s = sums.get(k) ?? sums.set(k, { kind: i.kind, what, count: 0 }).get(k)!;
        s.count += i.count;
      }
    }
    return { from, to, evidence: [...sums.values()].sort((a, b) => b.count - a.count), probes: probeResults(buckets.flatMap((b) => b.probes), key) };
  }

  /**
   * What this node saw of packets to and from these addresses (its pods) in a window, for another node's judge:
   * evidence items only, never health payloads. Waits, at most `maxWaitMs`, for the evidence to cover the window.
   */
  async evidenceAt(addrs: readonly string[], from: number, to: number, maxWaitMs: number): Promise<{ complete: boolean; items: EvidenceItem[] }> {
    const covered = () => this.timeline.coveredUntil >= to && (this.opts.listenIntervalMs === undefined || this.listenCovered >= to);
    if (!covered()) this.opts.readBy?.(to);
    for (const end = this.now() + maxWaitMs; !covered() && this.now() < end;) await new Promise((r) => setTimeout(r, 50));
    const ips = new Set(addrs);
    const items: EvidenceItem[] = [];
    for (const b of this.timeline.between(from, to)) for (const i of b.items.values()) if (touches(i, ips)) items.push(i);
    for (const i of this.overflowsAfter(to)) if (touches(i, ips)) items.push(i);
    return { complete: covered(), items: items.sort((a, b) => b.count - a.count).slice(0, 50) };
  }

  /** Failures waiting for their evidence, and evidence the timeline had to fold. */
  stats(): { pending: number; folded: number } {
    return { pending: this.pending.length, folded: this.timeline.folded };
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Overflows counted by the scans after a window that ends at `to`: an overflow is counted at the scan after it,
   * up to a scan interval late, and a scan newer than the last interval waits in the timeline for its bucket.
   */
  private overflowsAfter(to: number): EvidenceItem[] {
    const listen = this.opts.listenIntervalMs;
    if (!listen) return [];
    const later = this.timeline.between(to, to + listen).filter((b) => b.start >= to);
    return [...later.flatMap((b) => [...b.items.values()]), ...this.timeline.waiting(to, to + listen)].filter((i) => i.kind === 'listen-overflow');
  }

  private caseOf(p: Pending, incomplete: boolean): Case {
    const { obs } = p;
    const buckets = this.timeline.between(p.from, p.to);
    const items: EvidenceItem[] = buckets.flatMap((b) => [...b.items.values()]);
    items.push(...this.overflowsAfter(p.to));
    // kubelet's counter says a probe failed, its Event says how: the report that says most describes the failure
    const told = [obs, ...p.extra].find((o) => o.kind !== 'unknown') ?? obs;
    return { p, subject: this.subjectOf(obs), items, told, incomplete };
  }

  /** The incident of a case, on this node's evidence and, when they were asked, other nodes' replies. */
  private incidentOf({ p, subject, items, told, incomplete }: Case, replies?: PeerReply[], paths?: ReadonlyMap<string, PathKind>): Incident {
    const { obs } = p;
    const buckets = this.timeline.between(p.from, p.to);
    const dns = this.dns.judge(p, dnsClients(subject, p.obs, this.opts.index), items);
    const placed = [...(replies && paths ? remoteEvidence(replies, paths) : []), ...this.starvedPods(p, told, subject), ...dns.placed];
    const j = judge(told, subject, dns.items, placed);
    // a --probe URL names no Service; its address may be a Service's all the same
    const service = (obs.service?.namespace ? obs.service : this.firstService(subject)) ?? obs.service;
    const probes = service ? probeResults(buckets.flatMap((b) => b.probes), objectKey(service)) : {};
    const peers = replies && { asked: replies.map((r) => r.node), unanswered: replies.filter((r) => !r.answered).map((r) => r.node) };
    // every node on the path answered for its whole window and none saw anything: the network between them lost it
    const between = j.verdict === 'retransmits' && !j.node && !!replies?.length && replies.every((r) => r.answered && r.complete);
    const node = j.node ?? this.opts.node;
    const incident: Incident = {
      id: 0,
      at: obs.at,
      service: service ?? null,
      ...(obs.pod && { pod: obs.pod }),
      ...(obs.container && { container: obs.container }),
      probe: obs.probe,
      sources: sourcesOf(p),
      ...(obs.path && { path: obs.path }),
      ...(obs.target && { target: hostPort(obs.target) }),
      failure: { kind: told.kind, ...(told.status !== undefined && { status: told.status }), detail: told.detail },
      window: { from: p.from, to: p.to },
      verdict: j.verdict,
      ...(node && j.verdict !== 'none' && { node }),
      ...(between && { between }),
      ...(peers && { peers }),
      evidence: j.evidence.slice(0, 20).map((e) => this.detailed(e, p)),
      downstream: j.downstream,
      ...(Object.keys(probes).length && { probes }),
      ...(obs.retry && { retry: obs.retry }),
      ...(obs.failedDependencies?.length && { failedDependencies: obs.failedDependencies }),
      ...(obs.payload !== undefined && { payload: obs.payload }),
      ...(incomplete && { incomplete }),
    };
    return incident;
  }

  /**
   * The checked pods (or, through a ClusterIP, the Service's) and the pods of the dependencies its payload names,
   * that CPU throttling held back for at least half the probe's timeout in the window (correlate/starvation.ts).
   */
  private starvedPods(p: Pending, told: HealthObservation, subject: Subject): PathEvidence[] {
    if (!this.throttles.length) return [];
    const { index } = this.opts;
    const pods = new Map<string, PathKind>();
    const add = (pod: PodRef | undefined, path: PathKind) => pod && !pods.has(objectKey(pod)) && pods.set(objectKey(pod), path);
    add(p.obs.pod, 'probe');
    for (const ip of [...subject.addrs, ...subject.probed, ...subject.endpoints]) add(index.podAt(ip), subject.viaService ? 'service' : 'probe');
    for (const e of dependencyEndpoints(p.obs, index)) add(e.pod, 'downstream');
    const out: PathEvidence[] = [];
    for (const [key, path] of pods) {
      const observations = this.throttles.filter((o) => o.pod && objectKey(o.pod) === key);
      if (!observations.length) continue;
      const cpu = judgeStarvation({ timeoutMs: told.timeoutMs ?? DEFAULT_TIMEOUT_MS, window: { from: p.from, to: p.to }, observations });
      if (!cpu.starved) continue;
      const service = index.servicesOf(index.ports().flatMap((s) => s.endpoints.filter((e) => e.pod && objectKey(e.pod) === key).map((e) => e.ip)))[0] ?? '';
      out.push({ ...NO_ITEM, kind: 'cpu-throttle', path, service, direction: 'to_service', detail: `pod ${key}`, count: cpu.throttledPeriods, cpu });
    }
    return out;
  }

  /** What the reporters show beside an evidence item: whether a retransmission stayed on this host, example packets of a drop. */
  private detailed(e: PathEvidence, p: Pending): PathEvidence {
    if (e.kind === 'retransmit' && this.opts.onHost?.(e.daddr)) return { ...e, onHost: true };
    if (e.kind !== 'drop' || e.node) return e;
    const examples = this.samples
      .filter((s) => s.at > p.from && s.at <= p.to && s.reasonName === e.reason && s.location === e.location && (!e.daddr || (s.tuple.daddr === e.daddr && s.tuple.saddr === e.saddr)))
      .slice(-EXAMPLES)
      .map((s): PacketExample => ({
        at: s.at, len: s.len,
        from: hostPort({ ip: s.tuple.saddr, port: s.tuple.sport }), to: hostPort({ ip: s.tuple.daddr, port: s.tuple.dport }),
        ...(s.origDst && !s.ct.reply && { sentTo: hostPort(s.origDst) }),
      }));
    return examples.length ? { ...e, examples } : e;
  }

  private subjectOf(obs: HealthObservation): Subject {
    const { index } = this.opts;
    const addrs = new Set<string>();
    const dsts = new Set<string>();
    const pod = obs.pod && this.opts.pods.pod(obs.pod);
    // a hostNetwork pod's addresses are the node's: only the probed port tells its packets apart
    if (pod && !pod.hostNetwork && obs.path !== 'cluster_ip') for (const ip of pod.ips) addrs.add(ip);
    if (pod?.hostNetwork) for (const p of pod.probes) if ('port' in p.handler) for (const ip of pod.ips) dsts.add(hostPort({ ip, port: p.handler.port }));
    let viaService = obs.path === 'cluster_ip';
    const services = new Set<string>(obs.service?.namespace ? [objectKey(obs.service)] : []);
    const target = obs.target;
    const probed = new Set<string>(target ? [target.ip] : []);
    if (target) {
      const vip = PROTOCOLS.map((p) => index.byVip(target.ip, target.port, p)).find(Boolean);
      if (vip) {
        viaService = true;
        services.add(objectKey(vip));
      } else if (obs.path === 'pod') addrs.add(target.ip);
      else dsts.add(hostPort(target));
    }
    for (const s of index.servicesOf(addrs)) services.add(s);
    const endpoints = new Set<string>();
    if (viaService) for (const p of index.ports()) if (services.has(objectKey(p))) for (const e of p.endpoints) endpoints.add(e.ip);
    return { services, addrs, dsts, probed, viaService, endpoints };
  }

  private firstService(subject: Subject): ServiceRef | undefined {
    const first = [...subject.services][0];
    return first ? parseObjectKey(first) : undefined;
  }

  /**
   * kubelet's metrics and its Event report one failure: the later one joins the incident already made. A
   * failure the same source reports again is a new failure, judged in its own window.
   */
  private mergeIntoRecent(obs: HealthObservation): boolean {
    const incident = [...this.recent].reverse().find((i) => sameIncident(i, obs) && !i.sources.includes(obs.source)
      && obs.at >= i.window.from && obs.at <= i.window.to + obs.lookbackMs);
    if (!incident) return false;
    incident.sources.push(obs.source);
    this.failureListeners.emit([{ observation: obs, incident }]);
    return true;
  }
}

function sourcesOf(p: Pending): HealthSource[] {
  return [...new Set([p.obs, ...p.extra].map((o) => o.source))];
}

function sameCheck(a: HealthObservation, b: HealthObservation): boolean {
  const who = (o: HealthObservation) => (o.pod ? objectKey(o.pod) : o.target ? hostPort(o.target) : '');
  return who(a) === who(b) && a.probe === b.probe && a.path === b.path;
}

function sameIncident(i: Incident, obs: HealthObservation): boolean {
  if (obs.pod) return !!i.pod && objectKey(i.pod) === objectKey(obs.pod) && i.probe === obs.probe && i.path === obs.path;
  return !!obs.target && i.target === hostPort(obs.target) && i.probe === obs.probe && i.path === obs.path;
}

function probeResults(results: { service: string; path: ProbePath; ok: boolean }[], key: string): Partial<Record<ProbePath, PathResults>> {
  const out: Partial<Record<ProbePath, PathResults>> = {};
  for (const r of results) {
    if (r.service !== key) continue;
    const p = (out[r.path] ??= { ok: 0, failed: 0 });
    if (r.ok) p.ok++;
    else p.failed++;
  }
  return out;
}

export type { Verdict };
