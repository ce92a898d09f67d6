// What the kernel sources hand to the rest of the daemon: plain data with names already resolved, so that
// consumers never see the addon.
import type { Address, FlowTuple } from './net';

/** What the skb's conntrack entry said at the drop. */
export interface CtFlags {
  present: boolean;
  confirmed: boolean;
  dnat: boolean;
  snat: boolean;
  /** the packet travelled in the reply direction */
  reply: boolean;
}

export interface DropObservation {
  tuple: FlowTuple;
  /** inode of the packet's network namespace */
  netns: number;
  reason: number;
  /** e.g. NETFILTER_DROP; `reason_<n>` when this kernel's BTF does not name it */
  reasonName: string;
  /** the kernel function that freed the skb (`nft_do_chain`), or `0x<hex>` when unresolved */
  location: string;
  /** the flow's original destination from conntrack (a ClusterIP before DNAT), or null without an entry */
  origDst: Address | null;
  ct: CtFlags;
  packets: number;
  bytes: number;
  /** false for benign frees (see kernel/reasons.ts) */
  loss: boolean;
}

/** One dropped packet, as the tracer's ring buffer sampled it: an example for an incident's evidence. */
export interface DropSampleObservation extends Omit<DropObservation, 'packets' | 'bytes'> {
  /** when the kernel dropped it, ms since the epoch (wall clock) */
  at: number;
  len: number;
  ifindex: number;
}

export interface RetransmitObservation {
  tuple: FlowTuple;
  netns: number;
  /** TCP state name of the socket, e.g. SYN_SENT */
  state: string;
  /** a SYN-ACK retransmitted by a listener */
  synack: boolean;
  packets: number;
}

/** TCP connects from one client address to one destination over an interval, as the client's socket saw them. */
export interface ConnectionObservation {
  /** inode of the client socket's network namespace */
  netns: number;
  family: 4 | 6;
  /** the client socket's own address */
  saddr: string;
  /** where it connected: a Service's ClusterIP and port (the socket never sees kube-proxy's DNAT) */
  dst: Address;
  attempted: number;
  established: number;
  /** refused, reset, timed out, or given up by the application before the handshake ended */
  failed: number;
  /**
   * SYN sent → established, of the established ones the tracker saw begin: latencyUs[i] counts those of
   * [2^i, 2^(i+1)) µs (i = 0 also shorter, the last also longer)
   */
  latencyUs: number[];
  latencySumUs: number;
}
