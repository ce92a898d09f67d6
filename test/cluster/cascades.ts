// Synthetic cascades for the root-cause ranking: a call graph of Services (one Deployment backing each), faults at
// chosen Services and the failures they cause upstream, as every node's flapwatch would count them and
// Prometheus would sum them. Used by rca.test.ts and, drawn at random (synthetic()), by bench/rca-synthetic.ts.
import type { GraphEdge, ServiceGraph } from '../../src/cluster/graph';
import type { DependencyCount, FailureCount, RcaInput } from '../../src/cluster/rca';
import { prng } from '../helpers/prng';

export const NS = 'shop';
const key = (s: string) => `${NS}/${s}`;

/**
 * How a fault shows:
 * - network: the root's own checks fail with network evidence on its path or node, its callers' connects to it
 *   fail and their failures name it with the downstream evidence;
 * - no-endpoints: the root has no ready pod (its own failures say none: the application), callers are refused;
 * - overlay: packets to the root are lost between nodes: its own (node-local) checks pass, its callers retransmit
 *   and name it;
 * - app: the root answers 503 with no loss anywhere; its callers name it only when their payload says so.
 */
export type FaultKind = 'network' | 'no-endpoints' | 'overlay' | 'app';

export interface Fault {
  root: string;
  kind: FaultKind;
  /** network faults: the verdict of the root's own failures */
  verdict?: string;
  /** app faults: Services the root's payload says failed although they did not (an application blaming its dependencies) */
  blames?: string[];
}

export interface CascadeOptions {
  /** the Service calls these */
  calls: Record<string, string[]>;
  faults: Fault[];
  /**
   * does a caller that fails because of a callee's error answer name it (its payload says so)? default: always.
   * Downstream evidence (loss on the way to the callee) always names it, as the daemon does.
   */
  names?: (caller: string, callee: string) => boolean;
  /** does the failure spread from a failing Service to this caller (`first`: the root's own callers)? default: always */
  spreads?: (caller: string, callee: string, first: boolean) => boolean;
  /** background trouble on edges (failed, drops, retransmits) that causes no failure */
  noise?: { from: string; to: string; failed?: number; drops?: number; retransmits?: number }[];
  /** failures that name nothing, of Services no fault touched (or of victims, besides) */
  stray?: { service: string; verdict: string; count: number }[];
  /** call edges the tracer did not see */
  unseen?: { from: string; to: string }[];
  /** failures each failing Service has; default 10 */
  failures?: number;
}

const NETWORK_CALLER_VERDICT: Record<string, string> = { 'listen-overflow': 'retransmits' };

function emptyEdge(from: string, to: string): GraphEdge {
  return {
    client: { namespace: NS, kind: 'Deployment', name: from }, service: { namespace: NS, name: to }, port: 'http',
    attempted: 100, established: 100, failed: 0, drops: {}, retransmits: 0,
  };
}

/** The input rankRoots gets for these faults on this call graph. */
export function cascade(o: CascadeOptions): RcaInput {
  const n = o.failures ?? 10;
  const services = [...new Set([...Object.keys(o.calls), ...Object.values(o.calls).flat()])].sort();
  const unseen = new Set((o.unseen ?? []).map((u) => `${u.from}>${u.to}`));
  const edges = new Map<string, GraphEdge>();
  for (const [from, list] of Object.entries(o.calls)) for (const to of list) if (!unseen.has(`${from}>${to}`)) edges.set(`${from}>${to}`, emptyEdge(from, to));
  const callersOf = (s: string) => Object.entries(o.calls).filter(([, list]) => list.includes(s)).map(([c]) => c);
  const failures: FailureCount[] = [];
  const dependencies: DependencyCount[] = [];
  const fail = (service: string, verdict: string, count = n, node = 'node-a') => failures.push({ service: key(service), verdict, node, count });
  const name = (service: string, dependency: string, verdict: string) => dependencies.push({ service: key(service), dependency: key(dependency), verdict, count: n });
  const names = o.names ?? (() => true);
  const spreads = o.spreads ?? (() => true);

  for (const f of o.faults) {
    if (f.kind === 'network') fail(f.root, f.verdict ?? 'netfilter-drop', n, 'node-b');
    if (f.kind === 'no-endpoints' || f.kind === 'app') fail(f.root, 'none', n, 'node-b');
    for (const b of f.blames ?? []) name(f.root, b, 'none');
    // the root's callers: what they see of it
    const hop = f.kind === 'network' ? NETWORK_CALLER_VERDICT[f.verdict ?? ''] ?? f.verdict ?? 'netfilter-drop'
      : f.kind === 'no-endpoints' ? 'no-endpoints' : f.kind === 'overlay' ? 'retransmits' : 'none';
    const failed = new Set<string>([f.root]);
    const todo: [string, string, boolean][] = callersOf(f.root).map((c) => [c, f.root, true]);
    while (todo.length) {
      const [caller, callee, first] = todo.shift()!;
      if (failed.has(caller) || !spreads(caller, callee, first)) continue;
      failed.add(caller);
      const edge = edges.get(`${caller}>${callee}`);
      if (first && edge && f.kind !== 'app') {
        edge.failed += 20;
        if (f.kind === 'overlay' || hop === 'retransmits') edge.retransmits += 30;
        else edge.drops[hop === 'none' ? 'kernel-drop' : hop] = (edge.drops[hop] ?? 0) + 25;
      }
      // past the first hop the callee answers (an error): nothing is lost, only a payload names it
      const verdict = first ? hop : 'none';
      if (verdict !== 'none' || names(caller, callee)) name(caller, callee, verdict);
      fail(caller, verdict);
      for (const c of callersOf(caller)) todo.push([c, caller, false]);
    }
  }
  for (const x of o.noise ?? []) {
    const e = edges.get(`${x.from}>${x.to}`);
    if (!e) continue;
    e.failed += x.failed ?? 0;
    e.retransmits += x.retransmits ?? 0;
    if (x.drops) e.drops['kernel-drop'] = (e.drops['kernel-drop'] ?? 0) + x.drops;
  }
  for (const s of o.stray ?? []) fail(s.service, s.verdict, s.count, 'node-c');
  const graph: ServiceGraph = {
    edges: [...edges.values()],
    backs: services.map((s) => ({ workload: { namespace: NS, kind: 'Deployment', name: s }, service: { namespace: NS, name: s } })),
  };
  return { failures, dependencies, graph };
}

/** frontend → api → db → cache, with branches: api → auth, frontend → search → cache. */
export const SHOP: Record<string, string[]> = {
  frontend: ['api', 'search'],
  api: ['db', 'auth'],
  db: ['cache'],
  search: ['cache'],
  auth: [],
  cache: [],
};

const NAMES = ['frontend', 'api', 'db', 'cache', 'auth', 'search', 'cart', 'payment', 'queue', 'mail', 'stock', 'users'];
const NETWORK_VERDICTS = ['netfilter-drop', 'listen-overflow', 'kernel-drop', 'conntrack-insert-failed'];
const KINDS: FaultKind[] = ['network', 'no-endpoints', 'overlay', 'app'];

export interface SyntheticCase {
  kind: FaultKind;
  roots: string[];
  input: RcaInput;
}

/** Whether `to` is reachable from `from` through the calls. */
function reachable(calls: Record<string, string[]>, from: string, to: string): boolean {
  const todo = [from];
  const seen = new Set<string>();
  while (todo.length) {
    const s = todo.pop()!;
    if (s === to) return true;
    if (!seen.has(s)) seen.add(s), todo.push(...(calls[s] ?? []));
  }
  return false;
}

/** How often things happen in synthetic(): probabilities. */
export interface Draw {
  /** a caller failing on an erring callee names it (its payload says so) */
  names: number;
  /** a failure spreads from a failing Service to a caller, past the root's own callers */
  spreads: number;
  /** an edge carries background drops and retransmits */
  noisyEdge: number;
  /** a case has a stray failing Service (a second with one failure as often, times 0.8) */
  stray: number;
  /** a call edge the tracer never saw */
  unseen: number;
  /** a case has a second, independent root */
  secondRoot: number;
  /** an app-level root's payload blames the Services it calls, which pass their checks */
  blames: number;
}

export const DEFAULT_DRAW: Draw = { names: 0.7, spreads: 0.9, noisyEdge: 1 / 3, stray: 0.25, unseen: 0.1, secondRoot: 1 / 7, blames: 0.5 };
export const HARSH_DRAW: Draw = { names: 0.3, spreads: 0.8, noisyEdge: 0.6, stray: 0.5, unseen: 0.25, secondRoot: 1 / 4, blames: 0.8 };

/**
 * `count` cascades drawn at random: a dependency graph of 6 to 12 Services under frontend (a tree, some Services
 * with a second caller), the fault at a random Service of a random kind (sometimes with a second, independent
 * root; an overlay fault at a Service that has callers), failures that spread to the root's callers and from
 * there on to each caller with a probability, callers that name an erring callee now and then (and always one
 * they lost packets to), and noise: trouble on edges, stray failures, call edges the tracer never saw.
 */
export function synthetic(count: number, seed = 1, draw: Draw = DEFAULT_DRAW): SyntheticCase[] {
  const rnd = prng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  const out: SyntheticCase[] = [];
  for (let i = 0; i < count; i++) {
    const size = 6 + Math.floor(rnd() * 7);
    const services = NAMES.slice(0, size);
    const calls: Record<string, string[]> = Object.fromEntries(services.map((s) => [s, [] as string[]]));
    for (let k = 1; k < size; k++) {
      calls[services[Math.floor(rnd() * k)]!]!.push(services[k]!);
      if (k > 2 && rnd() < 0.2) {
        const extra = services[Math.floor(rnd() * k)]!;
        if (!calls[extra]!.includes(services[k]!)) calls[extra]!.push(services[k]!);
      }
    }
    const kind = pick(KINDS);
    // loss on the way to a Service shows only in its callers: an overlay fault needs one
    const roots = [pick(kind === 'overlay' ? services.slice(1) : services)];
    if (rnd() < draw.secondRoot) {
      const independent = services.filter((s) => !reachable(calls, s, roots[0]!) && !reachable(calls, roots[0]!, s));
      if (independent.length) roots.push(pick(independent));
    }
    const edges = Object.entries(calls).flatMap(([from, list]) => list.map((to) => ({ from, to })));
    const input = cascade({
      calls,
      faults: roots.map((root) => ({ root, kind, verdict: pick(NETWORK_VERDICTS), ...(kind === 'app' && rnd() < draw.blames && { blames: calls[root]! }) })),
      names: () => rnd() < draw.names,
      spreads: (_caller, _callee, first) => first || rnd() < draw.spreads,
      noise: edges.filter(() => rnd() < draw.noisyEdge).map((e) => ({ ...e, drops: 1 + Math.floor(rnd() * 3), retransmits: Math.floor(rnd() * 4) })),
      stray: [
        ...(rnd() < draw.stray ? [{ service: pick(services), verdict: pick(['none', 'retransmits']), count: 1 + Math.floor(rnd() * 3) }] : []),
        ...(rnd() < draw.stray * 0.8 ? [{ service: pick(services), verdict: 'none', count: 1 }] : []),
      ],
      unseen: edges.filter(() => rnd() < draw.unseen),
      failures: 5 + Math.floor(rnd() * 25),
    });
    out.push({ kind, roots: roots.map(key), input });
  }
  return out;
}
