// The root of a cascade, scored the way RCAEval scores root-cause methods (AC@1, AC@3, Avg@5), in the lab of three
// nodes: six Services in a dependency tree (frontend → api → db → cache, frontend → catalog, api → auth), a daemon
// per node, Prometheus scraping them. Each cascade injects one fault at a Service picked at random (Fisher–Yates
// over every Service and fault that applies to it), lets the failures spread up the tree, and ranks the root
// candidates two ways: the daemons' own cascade roots (each incident names the root as its node sees it), and
// `flapwatch rca` from Prometheus. Also, from the same runs: the verdicts of the faulty Service's callers on other
// nodes, as a confusion matrix of mechanism and node, and how long an incident that asked another node took.
import { randomInt } from 'node:crypto';
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ClusterLab, type ClusterLabOptions } from '../test/lab/cluster-lab';
import type { ClusterKube } from '../test/lab/cluster-kube';
import type { Undo } from '../test/lab/registry';
import type { Bench } from './types';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', 'src', 'cli.js');
const NS = 'shop';
/** each Service's pod, its node, and the Services its /health calls */
const TREE: Record<string, { node: number; calls: string[] }> = {
  frontend: { node: 0, calls: ['api', 'catalog'] },
  api: { node: 0, calls: ['db', 'auth'] },
  auth: { node: 0, calls: [] },
  catalog: { node: 1, calls: [] },
  cache: { node: 1, calls: [] },
  db: { node: 2, calls: ['cache'] },
};
// Each pair of nodes carries one dependency: a fault on the overlay between two nodes hits one Service's callers.
const CASCADES = Number(process.env.CASCADES ?? 60);
/** the deepest calls give up first, so that every caller hears its dependency's answer before it gives up */
const DEPTH_TIMEOUT_MS = [3500, 2500, 1500];
const PROBE = { timeoutSeconds: 5, periodSeconds: 2 };

interface Fault {
  name: string;
  /** network faults lose packets; an app-level one answers 503 and loses none */
  network: boolean;
  applies: (service: string) => boolean;
  inject: (lab: ClusterLab, kube: ClusterKube, service: string) => Promise<Undo>;
  /** what the callers on other nodes should be told: mechanism and node ('' for this node's own evidence) */
  callers?: (service: string) => { verdict: string; node: string };
}

const podOf = (s: string) => `${NS}/${s}-0`;
const nodeName = (i: number) => `node-${'abc'[i]}`;
const callersOf = (s: string) => Object.keys(TREE).filter((c) => TREE[c]!.calls.includes(s));
const depthOf = (s: string): number => (callersOf(s).length ? 1 + Math.max(...callersOf(s).map(depthOf)) : 0);

const FAULTS: Fault[] = [
  {
    name: 'drops on its path on its node', network: true, applies: () => true,
    inject: async (lab, _k, s) => {
      const pod = lab.pod(podOf(s));
      const undos = [await pod.node.lab.dropOnPath(pod.index, 1), await pod.node.lab.dropFromNode(pod.index, 1)];
      return async () => { for (const u of undos) await u(); };
    },
    callers: (s) => ({ verdict: 'netfilter-drop', node: nodeName(TREE[s]!.node) }),
  },
  {
    name: 'no endpoints', network: true, applies: (s) => callersOf(s).length > 0,
    inject: (_l, kube, s) => kube.noEndpoints(`${NS}/${s}`),
    callers: () => ({ verdict: 'no-endpoints', node: '' }),
  },
  {
    name: 'its pod stops accepting', network: true, applies: () => true,
    inject: (lab, _k, s) => {
      const pod = lab.pod(podOf(s));
      return pod.node.lab.stopAccepting(pod.index);
    },
    callers: (s) => ({ verdict: 'listen-overflow', node: nodeName(TREE[s]!.node) }),
  },
  {
    name: 'drops on the overlay from its callers\' node', network: true,
    applies: (s) => callersOf(s).some((c) => TREE[c]!.node !== TREE[s]!.node),
    inject: (lab, _k, s) => {
      const caller = callersOf(s).find((c) => TREE[c]!.node !== TREE[s]!.node)!;
      return lab.dropOnOverlay(nodeName(TREE[caller]!.node), nodeName(TREE[s]!.node), 1);
    },
    callers: () => ({ verdict: 'retransmits', node: 'between' }),
  },
  {
    name: 'it answers 503 (no loss anywhere)', network: false, applies: () => true,
    inject: (lab, _k, s) => {
      const pod = lab.pod(podOf(s));
      return pod.node.lab.failHealth(pod.index);
    },
    callers: () => ({ verdict: 'none', node: '' }),
  },
];

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Line {
  service?: string;
  namespace?: string;
  at: string;
  time: number;
  verdict: string;
  node?: string;
  between?: boolean;
  peers?: { asked: string[] };
  sources?: string[];
  cascade?: { root: string };
}

function labOptions(): ClusterLabOptions {
  const health = { 'flapwatch.io/health': '/health', 'flapwatch.io/health-interval': '2', 'flapwatch.io/health-timeout': '5' };
  return {
    nodes: [0, 1, 2].map((n) => ({ pods: Object.keys(TREE).filter((s) => TREE[s]!.node === n).map(podOf) })),
    services: Object.keys(TREE).map((s) => ({ namespace: NS, name: s, portName: 'http', endpoints: [podOf(s)], annotations: health })),
    dependencies: Object.entries(TREE).flatMap(([s, t]) => t.calls.map((c) => ({ pod: podOf(s), service: `${NS}/${c}`, timeoutMs: DEPTH_TIMEOUT_MS[Math.min(depthOf(c) - 1, 2)]! }))),
  };
}

/** Ranked candidates from the daemons' incidents: each cascade root named, by how many incidents name it. */
function localRanking(lines: Line[]): string[] {
  const votes = new Map<string, number>();
  for (const l of lines) {
    const root = l.cascade?.root ?? (l.service ? `${l.namespace}/${l.service}` : undefined);
    if (root) votes.set(root, (votes.get(root) ?? 0) + (l.cascade ? 2 : 1));
  }
  return [...votes].sort((a, b) => b[1] - a[1]).map(([s]) => s.slice(s.indexOf('/') + 1));
}

/**
 * `flapwatch rca` over the cascade: the window ends now (after the last scrape of its incidents) and starts just before
 * the fault, so that the previous cascade (15 s of quiet earlier) stays out. Candidates are `namespace/name`.
 */
async function rcaRanking(prometheus: string, from: number): Promise<string[]> {
  const at = Date.now();
  const window = `${Math.ceil((at - from) / 1000) + 2}s`;
  const { stdout } = await run(process.execPath, [CLI, 'rca', '--prometheus', prometheus, '--at', new Date(at).toISOString(), '--window', window, '--json'], { timeout: 30_000 });
  const body = JSON.parse(stdout) as { candidates: { service: string }[] };
  if (process.env.CASCADE_DUMP) appendFileSync(`${process.env.CASCADE_DUMP}.rca`, `${JSON.stringify(body)}\n`);
  return body.candidates.map((c) => c.service.slice(c.service.indexOf('/') + 1));
}

const acAt = (ranking: string[], truth: string, k: number) => (ranking.slice(0, k).includes(truth) ? 1 : 0);

export async function cascadeBench(): Promise<Bench> {
  const lab = await ClusterLab.create(labOptions());
  const results: { fault: Fault; service: string; local: string[]; rca: string[]; callers: Line[] }[] = [];
  const latencies: number[] = [];
  try {
    const kube = await lab.startKube({ probe: PROBE });
    await kube.startDaemons();
    const prometheus = await kube.startPrometheus();
    const pairs = FAULTS.flatMap((f) => Object.keys(TREE).filter(f.applies).map((s) => ({ fault: f, service: s })));
    // every pair as often as the others (±1), in random order: a short run draws from every fault too
    const order = shuffled(pairs);
    const plan = shuffled(Array.from({ length: CASCADES }, (_, i) => order[i % order.length]!));
    /** the node whose daemon logged each line */
    const reporter = new WeakMap<Line, string>();
    const lines = () => lab.nodes.flatMap((n) => (kube.daemon(n.name).incidents() as unknown as Line[]).map((l) => (reporter.set(l, n.name), l)));
    await sleep(10_000);
    for (const { fault, service } of plan) {
      const seen = new Set(lines());
      const from = Date.now();
      const undo = await fault.inject(lab, kube, service);
      await sleep(12_000);
            await undo();
      await sleep(3_000); // the last incidents of the cascade, and a scrape
      const found = lines().filter((l) => !seen.has(l) && Date.parse(l.at) >= from - 2000);
      const rca = await rcaRanking(prometheus.url, from).catch(() => []);
      // a caller's verdict is its own node's: another node's probe of the caller sees the 503 and none of the calls
      // the caller made (they leave from the caller's node), so it rightly says none, naming the dependency
      const callers = found.filter((l) => l.service && callersOf(service).includes(l.service) && TREE[l.service]!.node !== TREE[service]!.node
        && reporter.get(l) === nodeName(TREE[l.service]!.node));
      // from the failure to its line; an incident first reported by an Event is left out: the lab's kubelet stamps
      // its Events with the probe's start, so their time holds the probe's own wait (up to its timeout)
      for (const l of found) if (l.peers?.asked.length && l.sources?.[0] !== 'event') latencies.push(l.time - Date.parse(l.at));
      if (process.env.CASCADE_DUMP) appendFileSync(process.env.CASCADE_DUMP, `${JSON.stringify({ fault: fault.name, service, from, rca, lines: found })}\n`);
      results.push({ fault, service, local: localRanking(found), rca, callers });
      await sleep(15_000); // quiet again: probes pass, Prometheus's rate windows move past the cascade
    }
  } finally {
    await lab.destroy();
  }
  return report(results, latencies);
}

function report(results: { fault: Fault; service: string; local: string[]; rca: string[]; callers: Line[] }[], latencies: number[]): Bench {
  const score = (pick: (r: (typeof results)[number]) => string[], which: (r: (typeof results)[number]) => boolean) => {
    const set = results.filter(which);
    const ac = (k: number) => (set.length ? set.reduce((n, r) => n + acAt(pick(r), r.service, k), 0) / set.length : NaN);
    return { n: set.length, ac1: ac(1), ac3: ac(3), avg5: [1, 2, 3, 4, 5].reduce((n, k) => n + ac(k), 0) / 5 };
  };
  const fmt = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(2));
  const rows: string[][] = [];
  for (const [label, which] of [['network faults', (r: (typeof results)[number]) => r.fault.network], ['app-level faults', (r: (typeof results)[number]) => !r.fault.network], ['all', () => true]] as const) {
    for (const [method, pick] of [['flapwatch rca (Prometheus)', (r: (typeof results)[number]) => r.rca], ['the daemons\' cascade roots', (r: (typeof results)[number]) => r.local]] as const) {
      const s = score(pick, which);
      rows.push([label, method, String(s.n), fmt(s.ac1), fmt(s.ac3), fmt(s.avg5)]);
    }
  }
  const network = score((r) => r.rca, (r) => r.fault.network);
  const app = score((r) => r.rca, (r) => !r.fault.network);
  const appNetwork = results.filter((r) => !r.fault.network).flatMap((r) => r.callers).filter((l) => l.verdict !== 'none' && l.verdict !== 'cpu-throttled').length;
  // the callers on other nodes: was the mechanism named, and the node?
  const matrix = new Map<string, Map<string, number>>();
  let right = 0;
  let total = 0;
  for (const r of results) {
    const want = r.fault.callers?.(r.service);
    if (!want) continue;
    const row = matrix.get(r.fault.name) ?? matrix.set(r.fault.name, new Map()).get(r.fault.name)!;
    for (const l of r.callers) {
      const got = `${l.verdict}${l.between ? ' between' : l.node && l.node !== nodeName(TREE[l.service!]!.node) ? ` on ${l.node}` : ''}`;
      row.set(got, (row.get(got) ?? 0) + 1);
      total++;
      const node = want.node === 'between' ? !!l.between : want.node === '' || l.node === want.node;
      if (l.verdict === want.verdict && node) right++;
    }
  }
  latencies.sort((a, b) => a - b);
  const p90 = latencies.length ? latencies[Math.floor(latencies.length * 0.9)]! : NaN;
  return {
    title: `The root of a cascade: ${results.length} cascades over 6 Services on 3 nodes, scored as RCAEval scores`,
    header: ['faults', 'method', 'cascades', 'AC@1', 'AC@3', 'Avg@5'],
    rows,
    floors: [
      { what: 'AC@1 ≥ 0.90 on the network faults (flapwatch rca)', ok: network.ac1 >= 0.9, value: fmt(network.ac1) },
      { what: 'AC@1 ≥ 0.80 on the app-level faults (flapwatch rca)', ok: app.ac1 >= 0.8, value: fmt(app.ac1) },
      { what: 'no network verdict for an app-only root', ok: appNetwork === 0, value: String(appNetwork) },
      { what: '≥ 90% of the cross-node callers\' verdicts name the right mechanism and node', ok: total > 0 && right / total >= 0.9, value: `${right} of ${total}` },
      { what: 'failure → incident line with a peer\'s evidence, p90 ≤ 2 s', ok: p90 <= 2000, value: `${(p90 / 1000).toFixed(2)} s over ${latencies.length}` },
    ],
    notes: [
      'Cross-node callers\' verdicts (rows: the fault at their dependency; columns: what their incidents said, with the node when another\'s decided):',
      ...[...matrix].map(([fault, row]) => `${fault}: ${[...row].map(([v, n]) => `${v} ${n}`).join(', ')}`),
      'Each pair of nodes carries one dependency (frontend → catalog, api → db, db → cache), so a fault on the overlay between two nodes hits one Service\'s callers.',
    ],
  };
}
