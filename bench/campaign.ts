// How good the verdicts are: a randomized fault campaign in the lab (test/e2e/cluster.ts: a real daemon in
// the node's namespace, kubelet-style probes, a fake API server and kubelet). Faults of every kind, in random
// order and timing, mixed with failures that have no network cause and with quiet periods; every incident's
// deciding evidence is scored, by its named reason, against what the fault really injected when its failure
// happened deserves. Also: how long from a failure to its incident line.
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, PROBE, type Cluster, type IncidentLine } from '../test/e2e/cluster';
import type { Bench } from './types';

const NONE = 'none';

/** The pods kubelet probes belong to these Services: their incidents are scored. */
type Scored = 'web' | 'api';

interface Fault {
  name: string;
  /**
   * The named reason of the evidence that deserves to decide a failure this fault makes, by the failing Service:
   * `kernel-drop: QDISC_DROP` (a drop's verdict and reason), `dns-timeout`, `none`, … More than one where the fault
   * is seen more than one way (a full conntrack table drops api's probe, or its DNS queries). A Service the fault
   * leaves alone deserves no incident.
   */
  expect: Partial<Record<Scored, readonly string[]>>;
  /** added with DNS and CPU starvation: each must be right ≥ 90% on its own */
  added?: boolean;
  inject: (c: Cluster) => Promise<() => Promise<void>>;
}

const FAULTS: Fault[] = [
  { name: 'random drops on db\'s endpoint path', expect: { web: ['netfilter-drop: NETFILTER_DROP'] }, inject: (c) => c.lab.dropOnPath(2, 0.9) },
  { name: 'db without endpoints', expect: { web: ['no-endpoints: NETFILTER_DROP'] }, inject: (c) => c.dbEndpoints(false) },
  {
    name: 'conntrack table full',
    expect: { web: ['conntrack-table-full: NETFILTER_DROP'], api: ['conntrack-table-full: NETFILTER_DROP', 'dns-timeout'] },
    inject: (c) => c.lab.conntrackFull(1),
  },
  { name: 'drops on the node → web-0 path', expect: { web: ['netfilter-drop: NETFILTER_DROP'] }, inject: (c) => c.lab.dropFromNode(0, 1) },
  { name: 'web-0 stops accepting', expect: { web: ['listen-overflow'] }, inject: (c) => c.lab.stopAccepting(0) },
  { name: 'a qdisc drops toward web-0', expect: { web: ['kernel-drop: QDISC_DROP'] }, inject: (c) => c.lab.tbfDrop(0) },
  {
    name: 'web answers 503 (no network cause)', expect: { web: [NONE] }, inject: async (c) => {
      const undos = [await c.lab.failHealth(0), await c.lab.failHealth(1)];
      return async () => {
        for (const u of undos) await u();
      };
    },
  },
  {
    name: 'DNS: 90% of the queries to one kube-dns endpoint dropped', expect: { api: ['dns-timeout'] }, added: true,
    inject: (c) => c.lab.dropOnPath(c.dnsPods[0]!, 0.9, { protocol: 'udp', port: 53 }),
  },
  { name: 'DNS: a kube-dns server stalls', expect: { api: ['dns-timeout'] }, added: true, inject: async (c) => c.dns.stall([c.dnsPods[0]!]) },
  { name: 'DNS: kube-dns answers SERVFAIL', expect: { api: ['dns-error'] }, added: true, inject: (c) => c.dns.servfail(c.dnsPods) },
  { name: 'DNS: the name api resolves is gone (NXDOMAIN)', expect: { api: ['dns-error'] }, added: true, inject: (c) => c.dns.nxdomain(c.dbName) },
  { name: 'web-0 starved of CPU (1% of a CPU)', expect: { web: ['cpu-throttled'] }, added: true, inject: (c) => c.starve!(0, 50) },
];
const ROUNDS = 2; // each fault this many times, shuffled
const KUBELET_INTERVAL_S = 1; // the lab daemon reads kubelet's metrics every second
const EVENT_PRECISION_S = 1;

interface Episode {
  fault: Fault;
  from: number;
  to: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function quiet(c: Cluster): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (c.probeResults.every((r) => r.slice(-3).length === 3 && r.slice(-3).every(Boolean))) return;
    await sleep(100);
  }
  throw new Error('the probed pods did not pass their probes again');
}

/**
 * The fault a failure reported at `at` belongs to: the one active then, else the nearest just around it. A failure
 * just after a fault's end is still its own: its probe was in flight, or kubelet's metrics (read every second)
 * reported it late. One just before its start too: a probe sent before the fault answered after it, and Events
 * carry whole seconds.
 */
function faultAt(episodes: Episode[], at: number): Episode | undefined {
  const before = (PROBE.timeoutSeconds + EVENT_PRECISION_S) * 1000;
  const after = (PROBE.timeoutSeconds + PROBE.periodSeconds + KUBELET_INTERVAL_S) * 1000;
  const outside = (e: Episode) => Math.max(e.from - at, at - e.to, 0);
  const near = episodes.filter((e) => at >= e.from - before && at <= e.to + after);
  return near.sort((a, b) => outside(a) - outside(b))[0];
}

/** Fisher–Yates: every order alike (a random comparator to sort() keeps items near where they were). */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** What decided an incident's verdict, named: a drop's verdict and reason (`kernel-drop: QDISC_DROP`), or the verdict. */
export function namedReason(i: Pick<IncidentLine, 'verdict' | 'evidence'>): string {
  const top = i.evidence[0];
  return i.verdict !== NONE && top?.kind === 'drop' ? `${i.verdict}: ${top.reason}` : i.verdict;
}

const SCORED: readonly Scored[] = ['web', 'api'];

export async function campaignBench(): Promise<Bench> {
  if (process.getuid?.() !== 0) throw new Error('the campaign needs root (the lab)');
  const started = Date.now();
  const c = await startCluster();
  const faults = FAULTS.filter((f) => !f.name.includes('CPU') || c.starve);
  const episodes: Episode[] = [];
  const order = shuffled(Array.from({ length: ROUNDS }, () => faults).flat());
  const incidents: IncidentLine[] = [];
  try {
    await quiet(c);
    for (const fault of order) {
      await sleep(2000 + randomInt(4000)); // a quiet period of random length
      const from = Date.now();
      const undo = await fault.inject(c);
      await sleep(4000 + randomInt(5000));
      await undo();
      episodes.push({ fault, from, to: Date.now() });
      await quiet(c);
    }
    await sleep(3000); // the last judgements
    incidents.push(...c.incidents().filter((i) => SCORED.includes(i.service as Scored)));
  } finally {
    await c.close();
  }
  const minutes = (Date.now() - started) / 60_000;

  // everything, for a closer look at what the table sums up
  const dump = path.join(os.tmpdir(), 'flapwatch-campaign.json');
  writeFileSync(dump, JSON.stringify({ episodes: episodes.map((e) => ({ ...e, fault: e.fault.name })), failures: c.failures, incidents }, null, 1));

  // score: rows = the fault and the Service that failed, columns = the named reason that decided
  const reasons = [...new Set(incidents.map(namedReason))].sort();
  const rows = new Map<string, { fault: Fault | undefined; service: string; got: Map<string, number>; right: number }>();
  let right = 0;
  let networkForNone = 0;
  let withoutFault = 0;
  const wrong = new Map<string, { n: number; example: string }>();
  for (const i of incidents) {
    const at = Date.parse(i.at);
    const e = faultAt(episodes, at);
    const expected = e?.fault.expect[i.service as Scored] ?? [];
    const reason = namedReason(i);
    if (!e) withoutFault++;
    const key = `${e?.fault.name ?? 'no fault'} (${i.service})`;
    const row = rows.get(key) ?? rows.set(key, { fault: e?.fault, service: i.service!, got: new Map(), right: 0 }).get(key)!;
    row.got.set(reason, (row.got.get(reason) ?? 0) + 1);
    if (expected.includes(reason)) {
      right++;
      row.right++;
    } else {
      const kind = `${reason} for ${expected.join(' or ') || 'no incident'} (${e?.fault.name ?? 'outside every fault'}, ${i.service}), ${i.sources.join('+')}${i.path ? ` ${i.path}` : ''}`;
      const since = e ? `${((at - e.from) / 1000).toFixed(1)} s into the fault (${((e.to - e.from) / 1000).toFixed(1)} s long)` : '';
      const w = wrong.get(kind) ?? wrong.set(kind, { n: 0, example: `${since}: ${i.msg.slice(0, 240)}` }).get(kind)!;
      w.n++;
    }
    if (expected.includes(NONE) && i.verdict !== NONE) networkForNone++;
  }
  // from each kubelet-style failure (seen when its probe ended) to the first incident line judging it
  const kubeletLines = incidents.filter((i) => !i.path);
  const used = new Set<IncidentLine>();
  const latencies: { ms: number; dns: boolean }[] = [];
  for (const f of c.failures) {
    const line = kubeletLines.find((i) => !used.has(i) && i.pod === `shop/${f.pod}` && Math.abs(Date.parse(i.at) - f.at) <= 1500);
    if (!line) continue;
    used.add(line);
    latencies.push({ ms: line.time - (f.at + PROBE.timeoutSeconds * 1000), dns: line.verdict.startsWith('dns-') });
  }
  // kubelet's incidents must each stand for a failure the kubelet-style prober really saw (the daemon's own
  // probes are failures by definition)
  const phantom = kubeletLines.filter((i) => !c.failures.some((f) => i.pod === `shop/${f.pod}` && Math.abs(Date.parse(i.at) - f.at) <= 2500)).length;
  const quantiles = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    const q = (x: number) => sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))] ?? NaN;
    return { median: q(0.5), p90: q(0.9), max: q(1), n: sorted.length };
  };
  const other = quantiles(latencies.filter((l) => !l.dns).map((l) => l.ms));
  const dnsLatency = quantiles(latencies.filter((l) => l.dns).map((l) => l.ms));
  const share = incidents.length ? right / incidents.length : 0;
  const pct = (n: number, of: number) => `${(100 * n / of).toFixed(1)}% (${n} of ${of})`;
  const added = [...rows.values()].filter((r) => r.fault?.added);
  const addedShares = faults.filter((f) => f.added).map((f) => {
    const mine = added.filter((r) => r.fault === f);
    const n = mine.reduce((a, r) => a + [...r.got.values()].reduce((x, y) => x + y, 0), 0);
    return { name: f.name, n, right: mine.reduce((a, r) => a + r.right, 0) };
  });
  const table = [...rows.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, r]) => {
    const total = [...r.got.values()].reduce((a, b) => a + b, 0);
    const expected = r.fault?.expect[r.service as Scored]?.join(' or ') || 'no incident';
    return [`${key} → ${expected}`, ...reasons.map((x) => String(r.got.get(x) ?? 0)), String(total), String(r.right)];
  });
  return {
    title: `Verdicts: a randomized fault campaign in the lab (${order.length} faults, ${incidents.length} incidents of web and api, ${minutes.toFixed(1)} min)`,
    header: ['injected fault (failing Service) → named reason expected', ...reasons, 'incidents', 'right'],
    rows: table,
    floors: [
      { what: 'at least 40 health-check failures scored', ok: incidents.length >= 40, value: String(incidents.length) },
      { what: '≥ 90% of the named reasons right', ok: share >= 0.9, value: pct(right, incidents.length) },
      ...addedShares.map((a) => ({ what: `≥ 90% right on the new fault "${a.name}"`, ok: a.n > 0 && a.right / a.n >= 0.9, value: a.n ? pct(a.right, a.n) : 'no incident' })),
      { what: 'no network verdict for a failure with no network cause', ok: networkForNone === 0, value: String(networkForNone) },
      { what: 'no incident without a failure: every kubelet incident is a failure the prober saw', ok: phantom === 0, value: `${phantom} of ${kubeletLines.length}` },
      { what: 'every incident falls in a fault (none scored against "no fault")', ok: withoutFault === 0, value: String(withoutFault) },
      {
        what: 'from a failure to its incident line ≤ 2 s (kubelet-style failures but DNS\'s, max)', ok: other.max <= 2000,
        value: `median ${other.median} ms, p90 ${other.p90} ms, max ${other.max} ms over ${other.n}`,
      },
      {
        what: 'the same for dns-timeout and dns-error ≤ 3.5 s (a query is late a second after it was sent, and counted at the interval after)',
        ok: !(dnsLatency.max > 3500), value: dnsLatency.n ? `median ${dnsLatency.median} ms, p90 ${dnsLatency.p90} ms, max ${dnsLatency.max} ms over ${dnsLatency.n}` : 'none',
      },
      { what: 'the campaign takes ≤ 20 min', ok: minutes <= 20, value: `${minutes.toFixed(1)} min` },
    ],
    notes: [
      `faults in this order: ${episodes.map((e) => e.fault.name).join('; ')}`,
      'scored: the named reason of the evidence that decided each incident (a drop\'s verdict and kernel drop reason, else the verdict); a verdict right by class but decided by another reason, a consequence among them, is wrong',
      'a failure belongs to the fault active when it was reported, give or take a probe in flight (its timeout, its period, a kubelet poll after the fault; a timeout and an Event\'s whole second before it); kubelet-style probes of web-0, web-1 and api-0 every second, and the daemon\'s own active probes of web and api through their ClusterIPs and straight to each pod',
      'web\'s /health calls db through its ClusterIP; api\'s resolves db\'s name through kube-dns (dnsmasq in two pods behind a kube-dns-style Service, glibc with a kubelet-written resolv.conf: ndots:5 and the search list); the CPU fault gives web-0\'s /health 50 ms of work under a CFS quota of 1 ms per 100 ms',
      ...(faults.length < FAULTS.length ? ['CPU starvation left out: no cgroup v1 cpu controller here'] : []),
      ...[...wrong].map(([kind, w]) => `misjudged ${w.n}×: ${kind}; e.g. ${w.example}`),
      `every incident, fault and kubelet-style failure of the run: ${dump}`,
    ],
  };
}
