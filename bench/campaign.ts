// How good the verdicts are: a randomized fault campaign in the lab (test/e2e/cluster.ts: a real daemon in
// the node's namespace, kubelet-style probes, a fake API server and kubelet). Faults of every kind, in random
// order and timing, mixed with failures that have no network cause and with quiet periods; every incident is
// scored against the fault really injected when its failure happened. Also: how long from a failure to its
// incident line.
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, PROBE, type Cluster, type IncidentLine } from '../test/e2e/cluster';
import type { Bench } from './types';

interface Fault {
  name: string;
  /** the verdict a failure made by this fault deserves */
  expect: string;
  inject: (c: Cluster) => Promise<() => Promise<void>>;
}

const FAULTS: Fault[] = [
  { name: 'random drops on db\'s endpoint path', expect: 'netfilter-drop', inject: (c) => c.lab.dropOnPath(2, 0.9) },
  { name: 'db without endpoints', expect: 'no-endpoints', inject: (c) => c.dbEndpoints(false) },
  { name: 'conntrack table full', expect: 'conntrack-table-full', inject: (c) => c.lab.conntrackFull(1) },
  { name: 'drops on the node → web-0 path', expect: 'netfilter-drop', inject: (c) => c.lab.dropFromNode(0, 1) },
  { name: 'web-0 stops accepting', expect: 'listen-overflow', inject: (c) => c.lab.stopAccepting(0) },
  { name: 'a qdisc drops toward web-0', expect: 'kernel-drop', inject: (c) => c.lab.tbfDrop(0) },
  {
    name: 'web answers 503 (no network cause)', expect: 'none', inject: async (c) => {
      const undos = [await c.lab.failHealth(0), await c.lab.failHealth(1)];
      return async () => {
        for (const u of undos) await u();
      };
    },
  },
];
const ROUNDS = 2; // each fault this many times, shuffled
const KUBELET_INTERVAL_S = 1; // the lab daemon reads kubelet's metrics every second
const EVENT_PRECISION_S = 1;
const NONE = 'none';

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
  throw new Error('web did not pass its probes again');
}

/**
 * The fault a failure reported at `at` belongs to. A failure just after a fault's end is still its own: its
 * probe was in flight, or kubelet's metrics (read every second) reported it late. One just before its start
 * too: a probe sent before the fault answered after it, and Events carry whole seconds.
 */
function faultAt(episodes: Episode[], at: number): Episode | undefined {
  const before = (PROBE.timeoutSeconds + EVENT_PRECISION_S) * 1000;
  const after = (PROBE.timeoutSeconds + PROBE.periodSeconds + KUBELET_INTERVAL_S) * 1000;
  return episodes.find((e) => at >= e.from - before && at <= e.to + after);
}

/** Fisher–Yates: every order alike (a random comparator to sort() keeps items near where they were). */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export async function campaignBench(): Promise<Bench> {
  if (process.getuid?.() !== 0) throw new Error('the campaign needs root (the lab)');
  const c = await startCluster();
  const episodes: Episode[] = [];
  const order = shuffled(Array.from({ length: ROUNDS }, () => FAULTS).flat());
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
    incidents.push(...c.incidents().filter((i) => i.service === 'web'));
  } finally {
    await c.close();
  }

  // everything, for a closer look at what the table sums up
  const dump = path.join(os.tmpdir(), 'flapwatch-campaign.json');
  writeFileSync(dump, JSON.stringify({ episodes: episodes.map((e) => ({ ...e, fault: e.fault.name })), failures: c.failures, incidents }, null, 1));

  // score: rows = the fault's verdict, columns = the daemon's
  const verdicts = [...new Set([...FAULTS.map((f) => f.expect), ...incidents.map((i) => i.verdict), NONE])];
  const matrix = new Map<string, Map<string, number>>();
  let right = 0;
  let networkForNone = 0;
  let withoutFault = 0;
  const wrong = new Map<string, { n: number; example: string }>();
  for (const i of incidents) {
    const at = Date.parse(i.at);
    const e = faultAt(episodes, at);
    const expected = e ? e.fault.expect : 'no fault';
    if (!e) withoutFault++;
    const row = matrix.get(expected) ?? matrix.set(expected, new Map()).get(expected)!;
    row.set(i.verdict, (row.get(i.verdict) ?? 0) + 1);
    if (i.verdict === expected) right++;
    else {
      const kind = `${i.verdict} for ${expected} (${e?.fault.name ?? 'outside every fault'}), ${i.sources.join('+')}${i.path ? ` ${i.path}` : ''}`;
      const since = e ? `${((at - e.from) / 1000).toFixed(1)} s into the fault (${((e.to - e.from) / 1000).toFixed(1)} s long)` : '';
      const w = wrong.get(kind) ?? wrong.set(kind, { n: 0, example: `${since}: ${i.msg.slice(0, 240)}` }).get(kind)!;
      w.n++;
    }
    if (expected === NONE && i.verdict !== NONE) networkForNone++;
  }
  // from each kubelet-style failure (seen when its probe ended) to the first incident line judging it
  const kubeletLines = incidents.filter((i) => !i.path);
  const used = new Set<IncidentLine>();
  const latencies: number[] = [];
  for (const f of c.failures) {
    const line = kubeletLines.find((i) => !used.has(i) && i.pod === `shop/web-${f.pod}` && Math.abs(Date.parse(i.at) - f.at) <= 1500);
    if (!line) continue;
    used.add(line);
    latencies.push(line.time - (f.at + PROBE.timeoutSeconds * 1000));
  }
  latencies.sort((a, b) => a - b);
  // kubelet's incidents must each stand for a failure the kubelet-style prober really saw (the daemon's own
  // probes are failures by definition)
  const phantom = kubeletLines.filter((i) => !c.failures.some((f) => i.pod === `shop/web-${f.pod}` && Math.abs(Date.parse(i.at) - f.at) <= 2500)).length;
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const share = incidents.length ? right / incidents.length : 0;
  const rows = [...matrix.entries()].map(([expected, got]) => [expected, ...verdicts.map((v) => String(got.get(v) ?? 0)), String([...got.values()].reduce((a, b) => a + b, 0))]);
  return {
    title: `Verdicts: a randomized fault campaign in the lab (${order.length} faults, ${incidents.length} incidents of web)`,
    header: ['injected fault → expected verdict', ...verdicts, 'incidents'],
    rows,
    floors: [
      { what: 'at least 40 health-check failures scored', ok: incidents.length >= 40, value: String(incidents.length) },
      { what: '≥ 90% of verdicts right', ok: share >= 0.9, value: `${(100 * share).toFixed(1)}% (${right} of ${incidents.length})` },
      { what: 'no network verdict for a failure with no network cause', ok: networkForNone === 0, value: String(networkForNone) },
      { what: 'no incident without a failure: every kubelet incident is a failure the prober saw', ok: phantom === 0, value: `${phantom} of ${kubeletLines.length}` },
      { what: 'every incident falls in a fault (none scored against "no fault")', ok: withoutFault === 0, value: String(withoutFault) },
      { what: 'from a failure to its incident line ≤ 2 s (kubelet-style failures, max)', ok: p(1) <= 2000, value: `median ${p(0.5)} ms, p90 ${p(0.9)} ms, max ${p(1)} ms over ${latencies.length}` },
    ],
    notes: [
      `faults in this order: ${episodes.map((e) => e.fault.name).join('; ')}`,
      'a failure belongs to the fault active when it was reported, give or take a probe in flight (its timeout, its period, a kubelet poll after the fault; a timeout and an Event\'s whole second before it); kubelet-style probes of both web pods every second, and the daemon\'s own active probes of web through its ClusterIP and straight to each pod',
      'incidents of both kinds are scored: kubelet\'s (its metrics and its Events make one incident) and the daemon\'s active probes',
      ...[...wrong].map(([kind, w]) => `misjudged ${w.n}×: ${kind}; e.g. ${w.example}`),
      `every incident, fault and kubelet-style failure of the run: ${dump}`,
    ],
  };
}
