// The root of a cascade, cluster-wide: from every node's failure counts, the dependencies those failures named,
// and the service graph, rank the Services where the failures may have started. Pure: rca-read.ts fills the input
// from Prometheus. docs/rca.md explains the score; in short, each candidate (a failing Service, a Service their
// failures named, or one their connects failed to) gets four terms in [0, 1], weighed by WEIGHTS:
// - own: the share of its failures that named no dependency (a cause of its own); for one whose own checks pass,
//   the share of its failing callers whose calls to it lost packets;
// - independent: 1 when it calls no other candidate, else the share of its own cause that is network evidence on
//   its own path (a failing callee can make an application answer 503, not drop packets on the caller's path);
// - reach: the share of the other failing Services' failures that lead to it, through what they named or, when
//   they named nothing, through their calls;
// - pointed: how the failing Services that call it point at it: named it (1), lost packets to it (½), neither (0).
// Ties go to more own failures, then the name. A payload's word alone against a Service that passes its checks,
// with no failed connect to it, names no dependency (see `unconfirmed`).
import { isBarePods, objectKey } from '../observe/objects';
import { dropsOf, servicesByWorkload, workloadKey, type GraphEdge, type ServiceGraph } from './graph';

/** Failed health checks of a Service (`ns/name`) in the window, by verdict and node. */
export interface FailureCount {
  service: string;
  verdict: string;
  /** the node whose daemon counted them */
  node: string;
  count: number;
}

/** Failures of `service` that named `dependency` as failing, by verdict. */
export interface DependencyCount {
  service: string;
  dependency: string;
  verdict: string;
  count: number;
}

export interface RcaInput {
  failures: FailureCount[];
  dependencies: DependencyCount[];
  graph: ServiceGraph;
  /** the workload → Service calls any node counted before the window's end, however long ago */
  calledEver?: Pick<GraphEdge, 'client' | 'service'>[];
  /** ms since the epoch each Service was first seen failing in the window, where known */
  firstFailing?: Record<string, number>;
}

export const WEIGHTS = { own: 0.4, independent: 0.2, reach: 0.25, pointed: 0.15 } as const;
export type Term = keyof typeof WEIGHTS;

/**
 * A Service with fewer failures in the window than this share of the most-failing Service's is noise (a stray
 * failure or two while others fail by the dozen): it is listed, but neither a candidate nor part of the cascade.
 */
export const NOISE_FLOOR = 0.1;

/** Traffic from one caller's workloads to a candidate, summed over the window. */
export interface InboundTrouble {
  caller: string;
  attempted: number;
  failed: number;
  drops: Record<string, number>;
  retransmits: number;
}

export interface Candidate {
  service: string;
  score: number;
  terms: Record<Term, number>;
  /** all its failures in the window */
  failures: number;
  /** its failures that named no dependency, by verdict, with the nodes that counted them */
  own: { verdict: string; count: number; nodes: string[] }[];
  /** its failures that named a dependency */
  names: { dependency: string; count: number }[];
  /** its failures whose payload named a Service that passed its checks, no connect to it failed: its own */
  unconfirmed: { dependency: string; count: number }[];
  /** the failures of others that named it, with their verdicts */
  namedBy: { service: string; count: number; verdicts: string[] }[];
  /** the candidates it calls */
  calls: string[];
  /** the other failing Services whose failures lead to it */
  reachedBy: string[];
  /** the failing Services that call it, and how each points at it: its failures named it, its connects to it failed or dropped */
  callers: { service: string; named: boolean; lost: boolean }[];
  /** callers' edges into it that failed connects, dropped or retransmitted */
  inbound: InboundTrouble[];
  firstFailing?: number;
}

export interface RcaResult {
  /** the Services that failed in the window */
  failing: string[];
  /** Services that failed too little to be part of a cascade (NOISE_FLOOR), with their failures */
  belowFloor: { service: string; failures: number }[];
  /** best first */
  candidates: Candidate[];
}

const sum = <T>(list: readonly T[], f: (x: T) => number) => list.reduce((n, x) => n + f(x), 0);
const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

function group<T>(list: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of list) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

/** Each workload edge as the Services it links: the caller (a Service its client backs) and the callee. */
function* serviceLinks<E extends Pick<GraphEdge, 'client' | 'service'>>(edges: readonly E[], backs: ServiceGraph['backs']): Generator<[string, string, E]> {
  const owners = servicesByWorkload(backs.filter((b) => !isBarePods(b.workload)));
  for (const e of edges) {
    const callee = objectKey(e.service);
    for (const caller of owners.get(workloadKey(e.client)) ?? []) if (caller !== callee) yield [caller, callee, e];
  }
}

/** Service → Service calls and the trouble on them, from the workload edges. */
function serviceCalls(graph: ServiceGraph): Map<string, Map<string, InboundTrouble>> {
  const out = new Map<string, Map<string, InboundTrouble>>();
  for (const [caller, callee, e] of serviceLinks(graph.edges, graph.backs)) {
    const calls = out.get(caller) ?? new Map<string, InboundTrouble>();
    out.set(caller, calls);
    const t = calls.get(callee) ?? { caller, attempted: 0, failed: 0, drops: {}, retransmits: 0 };
    calls.set(callee, t);
    t.attempted += e.attempted;
    t.failed += e.failed;
    t.retransmits += e.retransmits;
    for (const [m, n] of Object.entries(e.drops)) t.drops[m] = (t.drops[m] ?? 0) + n;
  }
  return out;
}

const troubled = (t: InboundTrouble | undefined) => t !== undefined && t.failed + dropsOf(t) + t.retransmits > 0;
const lost = (t: InboundTrouble | undefined) => t !== undefined && t.failed + dropsOf(t) > 0;

/** What the terms are computed from: the failing Services, the candidates, and the calls among them. */
interface Cascade {
  failing: string[];
  failingSet: Set<string>;
  candidates: Set<string>;
  /** Service → Service calls with their trouble, from the edges */
  calls: Map<string, Map<string, InboundTrouble>>;
  /** the candidates each candidate calls: through the edges, or through a named dependency */
  out: Map<string, Set<string>>;
  names: Map<string, DependencyCount[]>;
  unconfirmed: Map<string, DependencyCount[]>;
  namedBy: Map<string, DependencyCount[]>;
  totals: Map<string, number>;
  owns: Map<string, Candidate['own']>;
}

function cascadeOf(input: RcaInput): Cascade & { belowFloor: RcaResult['belowFloor'] } {
  const all = [...group(input.failures.filter((f) => f.count > 0), (f) => f.service)].map(([service, list]) => ({ service, list, failures: sum(list, (f) => f.count) }));
  const floor = NOISE_FLOOR * Math.max(0, ...all.map((s) => s.failures));
  const failures = new Map(all.filter((s) => s.failures >= floor).map((s) => [s.service, s.list]));
  const failing = [...failures.keys()].sort();
  const failingSet = new Set(failing);
  const calls = serviceCalls(input.graph);
  const naming = input.dependencies.filter((d) => d.count > 0 && d.dependency !== d.service && failingSet.has(d.service));
  // An application may blame every dependency it has when it fails for its own reasons: its payload's word (a
  // `none` verdict: no loss on the way) is taken only for a Service that fails too, or that its connects failed to;
  // and where two failing Services blame each other, only in the direction their calls go (in the window, else
  // ever: connections kept open make no new connects) or, where no call says, against the one that failed first.
  const ever = new Set([...serviceLinks(input.calledEver ?? [], input.graph.backs)].map(([a, b]) => `${a}>${b}`));
  const called = (from: string, to: string) => [!!calls.get(from)?.has(to), ever.has(`${from}>${to}`)];
  const first = input.firstFailing ?? {};
  const against = (d: DependencyCount) => {
    if (!naming.some((x) => x.service === d.dependency && x.dependency === d.service)) return false;
    const [mine, back] = [called(d.service, d.dependency), called(d.dependency, d.service)];
    for (const i of [0, 1]) if (mine[i] !== back[i]) return back[i]!;
    const [t1, t2] = [first[d.service], first[d.dependency]];
    return t1 !== undefined && t2 !== undefined && t1 < t2;
  };
  const unconfirmed = (d: DependencyCount) => d.verdict === 'none'
    && (failingSet.has(d.dependency) ? against(d) : !calls.get(d.service)?.get(d.dependency)?.failed);
  const deps = naming.filter((d) => !unconfirmed(d));
  const connectsFailed = failing.flatMap((s) => [...(calls.get(s) ?? [])].filter(([, t]) => t.failed > 0).map(([callee]) => callee));
  const candidates = new Set([...failing, ...deps.map((d) => d.dependency), ...connectsFailed]);
  const names = group(deps, (d) => d.service);
  const out = new Map<string, Set<string>>();
  for (const c of candidates) {
    const next = new Set([...(calls.get(c)?.keys() ?? []), ...(names.get(c) ?? []).map((d) => d.dependency)]);
    out.set(c, new Set([...next].filter((d) => d !== c && candidates.has(d))));
  }
  return {
    failing, failingSet, candidates, calls, out, names,
    unconfirmed: group(naming.filter(unconfirmed), (d) => d.service),
    namedBy: group(deps, (d) => d.dependency),
    totals: new Map(failing.map((s) => [s, sum(failures.get(s)!, (f) => f.count)])),
    owns: new Map([...candidates].map((s) => [s, ownFailures(failures.get(s) ?? [], names.get(s) ?? [])])),
    belowFloor: all.filter((s) => s.failures < floor).map(({ service, failures: n }) => ({ service, failures: n })).sort((a, b) => b.failures - a.failures),
  };
}

/** Whether a cascade from `from` can reach `to`: through calls, going on only from Services that fail. */
function reaches(c: Cascade, from: string, to: string): boolean {
  const seen = new Set([from]);
  const todo = [from];
  while (todo.length) {
    for (const n of c.out.get(todo.pop()!) ?? []) {
      if (n === to) return true;
      if (!seen.has(n) && c.failingSet.has(n)) todo.push(n), seen.add(n);
    }
  }
  return false;
}

const ownNetwork = (own: Candidate['own']) => sum(own, (v) => (v.verdict === 'none' ? 0 : v.count));

/**
 * The share of a failing Service's failures that a failing dependency may explain: all but its own network
 * evidence (a dependency can make an application answer 503, it cannot drop packets on the caller's own path).
 */
const explicable = (c: Cascade, s: string) => 1 - ownNetwork(c.owns.get(s)!) / c.totals.get(s)!;

/**
 * The share of `from`'s failures that lead to `to`: those that named `to` or a dependency whose cascade reaches
 * it, and, when `from` itself reaches it, those that named nothing and have no network evidence of their own.
 */
function credit(c: Cascade, from: string, to: string): number {
  const total = c.totals.get(from)!;
  const own = c.owns.get(from)!;
  const explained = total - sum(own, (v) => v.count);
  const naming = [...group(c.names.get(from) ?? [], (d) => d.dependency)].map(([d, list]) => [d, sum(list, (x) => x.count)] as const);
  const named = sum(naming, ([, n]) => n);
  const viaNames = sum(naming.filter(([d]) => d === to || (c.failingSet.has(d) && reaches(c, d, to))), ([, n]) => n) / Math.max(named, 1e-9) * explained;
  const viaCalls = reaches(c, from, to) ? sum(own, (v) => (v.verdict === 'none' ? v.count : 0)) : 0;
  return (viaNames + viaCalls) / total;
}

function candidate(c: Cascade, service: string, firstFailing: number | undefined): Candidate {
  const naming = c.names.get(service) ?? [];
  const named = c.namedBy.get(service) ?? [];
  const own = c.owns.get(service)!;
  const total = c.totals.get(service) ?? 0;
  const ownTotal = sum(own, (v) => v.count);
  const callers = c.failing.filter((x) => c.out.get(x)!.has(service)).map((x) => ({
    service: x, named: named.some((d) => d.service === x), lost: lost(c.calls.get(x)?.get(service)),
  }));
  // a Service whose own checks pass: its own cause is the loss on its callers' path to it
  const lostOnPath = callers.filter((x) => x.lost || named.some((d) => d.service === x.service && d.verdict !== 'none')).length;
  const others = c.failing.filter((s) => s !== service);
  const credits = others.map((x) => [x, credit(c, x, service)] as const);
  const networkShare = total > 0 ? share(ownNetwork(own), ownTotal) : lostOnPath > 0 ? 1 : 0;
  const terms: Record<Term, number> = {
    own: total > 0 ? ownTotal / total : share(lostOnPath, callers.length),
    independent: c.out.get(service)!.size === 0 ? 1 : networkShare,
    reach: share(sum(credits, ([, n]) => n), sum(others, (x) => explicable(c, x))),
    pointed: share(sum(callers, (x) => explicable(c, x.service) * (x.named ? 1 : x.lost ? 0.5 : 0)), sum(callers, (x) => explicable(c, x.service))),
  };
  return {
    service,
    // rounded: equal evidence gets an equal score whatever order the sum ran in
    score: Math.round(1e4 * (Object.keys(WEIGHTS) as Term[]).reduce((n, t) => n + WEIGHTS[t] * terms[t], 0)) / 1e4,
    terms,
    failures: total,
    own,
    names: byDependency(naming),
    unconfirmed: byDependency(c.unconfirmed.get(service) ?? []),
    namedBy: [...group(named, (d) => d.service)].map(([s, list]) => ({ service: s, count: sum(list, (d) => d.count), verdicts: [...new Set(list.map((d) => d.verdict))].sort() })),
    calls: [...c.out.get(service)!].sort(),
    reachedBy: credits.filter(([, n]) => n > 0).map(([x]) => x),
    callers,
    inbound: callers.map((x) => c.calls.get(x.service)?.get(service)).filter(troubled) as InboundTrouble[],
    ...(firstFailing !== undefined && { firstFailing }),
  };
}

const byDependency = (list: readonly DependencyCount[]) => [...group(list, (d) => d.dependency)].map(([dependency, l]) => ({ dependency, count: sum(l, (d) => d.count) }));

/** The candidates, best first. */
export function rankRoots(input: RcaInput): RcaResult {
  const c = cascadeOf(input);
  const ranked = [...c.candidates].map((s) => candidate(c, s, input.firstFailing?.[s]));
  const ownCount = (x: Candidate) => sum(x.own, (v) => v.count);
  ranked.sort((a, b) => b.score - a.score || ownCount(b) - ownCount(a) || a.service.localeCompare(b.service));
  return { failing: c.failing, belowFloor: c.belowFloor, candidates: ranked };
}

/**
 * A Service's failures that named no dependency, by verdict: each verdict's failures less those of its namings
 * (a failure naming two dependencies counts in both: at most all of them are explained). What Prometheus's
 * arithmetic leaves of an equal count is none.
 */
function ownFailures(mine: readonly FailureCount[], naming: readonly DependencyCount[]): Candidate['own'] {
  return [...group(mine, (f) => f.verdict)].map(([verdict, list]) => {
    const failed = sum(list, (f) => f.count);
    const explained = Math.min(failed, sum(naming.filter((d) => d.verdict === verdict), (d) => d.count));
    return { verdict, failed, count: failed - explained, nodes: [...new Set(list.map((f) => f.node))].sort() };
  }).filter((v) => v.count > 1e-6 * v.failed).map(({ failed: _, ...v }) => v).sort((a, b) => b.count - a.count || a.verdict.localeCompare(b.verdict));
}
