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
  /** kernel function that freed the skb: `nft_do_chain`, or `0x<hex>` when unresolved */
  location: string;
  /** the flow's original destination from conntrack (a ClusterIP before DNAT), or null without an entry */
  origDst: Endpoint | null;
  ct: CtFlags;
  packets: number;
  bytes: number;
  /** false for benign frees (see kernel/reasons.ts) */
  loss: boolean;
}

/** One dropped packet, as the tracer's ring buffer sampled it. */
export interface DropSampleObservation extends Omit<DropObservation, 'packets' | 'bytes'> {
  /** when the kernel dropped it, ms since the epoch (wall clock) */
  timeMs: number;
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

/** What the daemon starts, stops and reports on. start() never rejects: a source that cannot run says why in stats(). */
export interface Source {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): SourceStats[];
}

// ---- Kubernetes and health checks (src/kube, src/health → src/correlate) ----

export interface PodRef {
  namespace: string;
  name: string;
}

export type ProbeType = 'Readiness' | 'Liveness' | 'Startup';

/** A container probe as the pod spec declares it; what the correlator needs to size its window. */
export interface ProbeSpec {
  container: string;
  type: ProbeType;
  /** kubelet's defaults when the spec leaves them out: 1 s, 10 s, 3 */
  timeoutSeconds: number;
  periodSeconds: number;
  failureThreshold: number;
  /** what the probe calls; port resolved to a number where the spec named it */
  handler: { kind: 'http'; path: string; port: number; scheme: 'HTTP' | 'HTTPS' } | { kind: 'tcp'; port: number } | { kind: 'grpc'; port: number } | { kind: 'exec' };
}

/** A pod on this node, keeping only what attribution and correlation need. */
export interface PodInfo extends PodRef {
  uid: string;
  nodeName: string;
  /** status.podIPs; the node's addresses for a hostNetwork pod */
  ips: string[];
  hostNetwork: boolean;
  probes: ProbeSpec[];
}

export type HealthSource = 'kubelet' | 'event' | 'endpointslice' | 'active';

/** How a check failed, as far as its message tells. */
export type FailureKind = 'timeout' | 'refused' | 'reset' | 'http-status' | 'exec' | 'unknown';

/** Which way an active probe went: through the Service's ClusterIP (kube-proxy's DNAT) or straight to a pod. */
export type ProbePath = 'cluster_ip' | 'pod' | 'url';

/** One health-check result. Passive sources (kubelet, events, EndpointSlices) report failures only. */
export interface HealthObservation {
  /** ms since the epoch: when the check failed (for a counted kubelet failure: when the count rose) */
  at: number;
  source: HealthSource;
  ok: boolean;
  /** the Service the check speaks for, when known (active probes always; others from the pod's Services) */
  service?: PodRef;
  pod?: PodRef;
  container?: string;
  /** 'Readiness' | 'Liveness' | 'Startup' for kubelet's; 'GET /health' and the like for active probes */
  probe: string;
  path?: ProbePath;
  /** where the check was sent, when known */
  target?: Endpoint;
  kind: FailureKind;
  /** HTTP status when there was one */
  status?: number;
  /** the message in plain words: the Event's text, the error, the status line */
  detail: string;
  /** how far before `at` a cause may lie: the probe's timeout plus its period */
  lookbackMs: number;
  /** a JSON health payload, truncated and redacted: for display only, never trusted */
  payload?: unknown;
  /** dependencies the payload says are down (`checks`/`details`/`dependencies` with a non-ok status) */
  failedDependencies?: string[];
  /** active probes: the immediate retry after a failure, and whether it succeeded */
  retry?: { ok: boolean; detail: string };
  /** events that say how many times kubelet saw the failure (Event.count deltas, counter deltas) */
  count?: number;
}

/** Listen-queue overflows in one pod's network namespace over an interval (deltas of TcpExt counters). */
export interface ListenOverflowObservation {
  at: number;
  /** inode of the netns */
  netns: number;
  /** the namespace's own addresses, to attribute it to a pod */
  addrs: string[];
  pod?: PodRef;
  listenOverflows: number;
  listenDrops: number;
}
