// A failure whose cause may be on another node. When this node's evidence ends at "packets went out and nothing
// came back" (TCP retransmissions, flows that died unanswered) toward pods that run on other nodes, the judge asks
// those nodes' flapwatch what they saw for those pods in the window, and decides on everything it got back: a drop
// on the way in or a full accept queue there names that node; nothing on any node asked makes the loss one of
// the network between them.
import type { ServiceIndex } from '../services/index';
import type { EvidenceItem } from './evidence';
import type { PathKind, PathEvidence } from './verdict';

/** What to ask one node: the addresses of the pods there that this node's packets went to. */
export interface PeerAsk {
  node: string;
  addrs: string[];
}

/** One node's answer, or that it did not answer. */
export interface PeerReply {
  node: string;
  answered: boolean;
  /** the node's evidence reached the window's end (its intervals and overflow scans had covered it) */
  complete: boolean;
  items: EvidenceItem[];
  /** why it did not answer, in a few words */
  error?: string;
}

export interface Window {
  from: number;
  to: number;
}

/** Asks the nodes; never rejects (a node that cannot be reached answers `answered: false`). */
export type AskPeers = (asks: PeerAsk[], window: Window) => Promise<PeerReply[]>;

/** The evidence that lost packets went toward other nodes' pods, and the path it lies on. */
function outbound(e: PathEvidence): boolean {
  return e.kind === 'retransmit' || e.kind === 'unanswered';
}

/**
 * The remote pods this node's evidence points at, grouped by node: a destination that is a Service's VIP stands
 * for every endpoint of the Service on another node (the flow's endpoint is not known once it is gone); a pod
 * address for itself. At most `maxNodes` nodes, those with most addresses first.
 */
export function asksFor(evidence: readonly PathEvidence[], index: ServiceIndex, self: string, maxNodes: number): { asks: PeerAsk[]; paths: Map<string, PathKind> } {
  const byNode = new Map<string, Set<string>>();
  const paths = new Map<string, PathKind>();
  const add = (ip: string, path: PathKind) => {
    const node = index.nodeOf(ip);
    if (!node || node === self) return;
    let set = byNode.get(node);
    if (!set) byNode.set(node, (set = new Set()));
    set.add(ip);
    if (!paths.has(node)) paths.set(node, path);
  };
  for (const e of evidence) {
    if (!outbound(e) || e.consequence) continue;
    const [ip, port] = splitDst(e.dst || e.daddr);
    const service = port !== undefined ? index.byVip(ip, port, 'tcp') ?? index.byVip(ip, port, 'udp') : undefined;
    if (service) for (const endpoint of service.endpoints) add(endpoint.ip, e.path);
    else add(e.daddr || ip, e.path);
  }
  const asks = [...byNode].map(([node, addrs]) => ({ node, addrs: [...addrs] })).sort((a, b) => b.addrs.length - a.addrs.length).slice(0, maxNodes);
  return { asks, paths };
}

/** `ip:port` or `[v6]:port` → its parts; a bare address has no port. */
function splitDst(dst: string): [string, number | undefined] {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(dst);
  return m ? [(m[1] ?? m[2])!, Number(m[3])] : [dst, undefined];
}

/** The peers' items as evidence of this failure: on the path of the local evidence that asked, with their node. */
export function remoteEvidence(replies: readonly PeerReply[], paths: ReadonlyMap<string, PathKind>): PathEvidence[] {
  const out: PathEvidence[] = [];
  for (const r of replies) {
    if (!r.answered) continue;
    for (const i of r.items) out.push({ ...i, path: paths.get(r.node) ?? 'downstream', node: r.node });
  }
  return out;
}
