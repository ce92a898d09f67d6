// Normalized observations: what every kernel source hands to the rest of the daemon. Plain data with
// names already resolved, so consumers (metrics, snapshot, later the correlator) never see the addon.

export interface FlowTuple {
  family: 4 | 6;
  /** IP protocol number: 6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp */
  proto: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

export interface Endpoint {
  addr: string;
  port: number;
}

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
  /** kernel code that freed the skb: `nft_do_chain+0x2a1`, or `0x<hex>` when unresolved */
  location: string;
  /** the flow's original destination from conntrack (a ClusterIP before DNAT), or null without an entry */
  origDst: Endpoint | null;
  ct: CtFlags;
  packets: number;
  bytes: number;
  /** false for benign frees (see kernel/reasons.ts) */
  loss: boolean;
}

export interface DropSampleObservation extends Omit<DropObservation, 'packets' | 'bytes'> {
  /** CLOCK_MONOTONIC nanoseconds */
  timeNs: bigint;
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

export interface SourceStatus {
  /** drops, drop_samples, retransmits, … */
  source: string;
  up: boolean;
  /** why it is down, or what is missing while up; '' when fully up */
  reason: string;
}

/** A source's status plus its monotonic totals, read at scrape time. */
export interface SourceStats extends SourceStatus {
  errors: number;
  /** events the kernel side could not hand over (full map or ring, evicted flows) */
  eventsLost: number;
  /** events skipped on purpose by a rate limit */
  rateLimited: number;
}

export type Listener<T> = (items: T[]) => void;
