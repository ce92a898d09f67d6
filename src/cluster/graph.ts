// The service graph, cluster-wide: edges from client workloads to Service ports, each summed over the nodes that
// counted it (every edge is counted on its client's node only), and which Services each workload backs. A Service
// calls another when one of its workloads has an edge to it. Pure: graph-read.ts fills it from Prometheus.
import { objectKey, type ServiceRef, type Workload } from '../observe/objects';

export interface GraphEdge {
  client: Workload;
  service: ServiceRef;
  /** the Service port's name; '' for an unnamed port */
  port: string;
  /** TCP connects in the window: SYNs sent, handshakes completed, connects refused, reset or timed out */
  attempted: number;
  established: number;
  failed: number;
  /** packets dropped on the way, by mechanism */
  drops: Record<string, number>;
  retransmits: number;
  /** seconds from SYN to established, where the edge's histogram has connects in the window */
  connectP50?: number;
  connectP90?: number;
}

/** A workload and a Service its pods back. */
export interface Backing {
  workload: Workload;
  service: ServiceRef;
}

export interface ServiceGraph {
  edges: GraphEdge[];
  backs: Backing[];
}

/** `ns/Kind/name` */
export function workloadKey(w: Workload): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

export function dropsOf(e: Pick<GraphEdge, 'drops'>): number {
  return Object.values(e.drops).reduce((n, v) => n + v, 0);
}

/** The share of the edge's connects that failed; 0 without connects (UDP, or none counted). */
export function failureShare(e: Pick<GraphEdge, 'attempted' | 'failed'>): number {
  return e.attempted > 0 ? Math.min(1, e.failed / e.attempted) : 0;
}

/** Everything that went wrong on the edge: failed connects, dropped packets, retransmitted segments. */
export function troubleOf(e: Pick<GraphEdge, 'failed' | 'drops' | 'retransmits'>): number {
  return e.failed + dropsOf(e) + e.retransmits;
}

const edgeName = (e: GraphEdge) => `${workloadKey(e.client)} ${objectKey(e.service)}:${e.port}`;

/** Worst first: by the share of connects that failed, then by how much went wrong, then by volume. */
export function worstFirst(edges: readonly GraphEdge[]): GraphEdge[] {
  return [...edges].sort((a, b) => failureShare(b) - failureShare(a) || troubleOf(b) - troubleOf(a) || b.attempted - a.attempted
    || edgeName(a).localeCompare(edgeName(b)));
}

/** `ns/name` of the Services each workload backs, by workloadKey. */
export function servicesByWorkload(backs: readonly Backing[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const b of backs) {
    const list = out.get(workloadKey(b.workload)) ?? [];
    const s = objectKey(b.service);
    if (!list.includes(s)) list.push(s);
    out.set(workloadKey(b.workload), list);
  }
  return out;
}
