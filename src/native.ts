// The whole contract of the native addon (native/src). TypeScript validates every argument before it
// crosses; the addon trusts what it is given.
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import type { FlowTuple } from './observe/net';

/** Bits of DropRecord.ct: what the skb's conntrack entry said at the drop. */
export const CT_PRESENT = 1;
export const CT_CONFIRMED = 2;
export const CT_DNAT = 4;
export const CT_SNAT = 8;
export const CT_REPLY = 16;

export interface DropRecord extends FlowTuple {
  /** inode of the network namespace the packet was in (readlink /proc/PID/ns/net) */
  netns: number;
  /** the kernel's enum skb_drop_reason value; names come from BTF (kernel/reasons.ts) */
  reason: number;
  /** kernel address that freed the skb; symbols come from /proc/kallsyms (kernel/kallsyms.ts) */
  location: bigint;
  /** original destination from the conntrack entry (the ClusterIP before DNAT), or null without one */
  origDaddr: string | null;
  origDport: number;
  /** CT_* bits */
  ct: number;
  packets: number;
  bytes: number;
}

export interface RetransmitRecord extends FlowTuple {
  netns: number;
  /** TCP state of the socket: 2 SYN_SENT, 3 SYN_RECV, 1 ESTABLISHED, … */
  state: number;
  /** from tcp_retransmit_synack (the tuple is the request's, seen from the listener) */
  synack: boolean;
  packets: number;
}

export interface DropSample extends Omit<DropRecord, 'packets' | 'bytes'> {
  /** CLOCK_MONOTONIC nanoseconds */
  timeNs: bigint;
  len: number;
  ifindex: number;
}

/**
 * The tracer's counters, in the kernel's order: FW_STATS in native/bpf/drops.h names the same list (drops seen,
 * flows inserted, inserts a full map refused; the same for retransmits; samples written, rate-limited, lost;
 * segments TIME_WAIT sockets took and frees of a skipped reason, both counted apart from the drops).
 */
export const TRACER_COUNTERS = [
  'drops', 'dropFlows', 'dropMapFull',
  'retransmits', 'retransmitFlows', 'retransmitMapFull',
  'samples', 'samplesLimited', 'samplesLost',
  'timeWait', 'skipped',
] as const;

/** Totals since start(), summed over CPUs, straight from the kernel side. */
export type TracerCounters = Record<(typeof TRACER_COUNTERS)[number], number>;

export interface DrainResult {
  /** records since the previous drain (the maps are emptied as they are read) */
  drops: DropRecord[];
  retransmits: RetransmitRecord[];
  counters: TracerCounters;
}

export interface TracerOptions {
  /** kernel BTF for CO-RE; '' = the running kernel's */
  btfPath: string;
  /** capacity of the in-kernel drop aggregation (LRU) */
  maxFlows: number;
  maxRetransmitFlows: number;
  /** cap on ring-buffer samples per second, all CPUs together; 0 = none */
  samplesPerSecond: number;
  /** ring buffer size in bytes, a power of two ≥ 4096 */
  ringBytes: number;
  /** drop reasons (names as enum skb_drop_reason spells them, with or without SKB_DROP_REASON_) counted, never aggregated */
  skipReasons: string[];
  /** called on the event loop with the samples read since the last call */
  onSamples: (samples: DropSample[]) => void;
}

export interface StartInfo {
  /** programs attached, e.g. ['kfree_skb_reason', 'tcp_retransmit_skb'] */
  programs: string[];
  /** hooks this kernel lacks, each with why: ['tcp_retransmit_synack: …']; 'samples: …' when the ring buffer cannot be read (the counters still work) */
  missing: string[];
  /** libbpf's messages during open/load */
  log: string[];
  /** enum skb_drop_reason of the kernel's BTF, value → enumerator name; {} on a kernel without it */
  dropReasons: Record<number, string>;
}

/**
 * The lifecycle every class of the addon shares (DropTracer, DnsTracer, ConnTracker,
 * NetnsIterator). start() rejects with code EALREADY ("<Class>.start: already started") while the object is started
 * or a start is under way, even one that stop() cancelled; once stop() has run and any start under way has ended,
 * start() works again. stop() is idempotent, and during a start it frees what that start opens when it ends. A
 * method that needs a started object fails with code EINVAL ("<Class>.drain: not started"). These errors have the
 * NativeError shape, `syscall` naming the method.
 */
export interface NativeDropTracer {
  start(options: TracerOptions): Promise<StartInfo>;
  /** rejects with code EBUSY while a drain is running */
  drain(): Promise<DrainResult>;
  /** detaches every program and frees every map; idempotent */
  stop(): void;
}

/**
 * The DNS tracer's counters, in the kernel's order: FW_DNS_STATS in native/bpf/dns.h names the same list (queries
 * seen, answers matched, answers with no query waiting, queries entered in the pending map and refused by it,
 * queries swept out unanswered, rows inserted in the aggregation and refused by it, port-53 packets too short).
 */
export const DNS_COUNTERS = [
  'queries', 'answers', 'orphanAnswers', 'pendingAdded', 'pendingFull', 'expired', 'flows', 'mapFull', 'truncated',
] as const;

export type DnsCounters = Record<(typeof DNS_COUNTERS)[number], number>;

/** Upper bounds of the latency buckets in µs, in order; FW_DNS_BOUNDS in native/bpf/dns.h is the same list. */
export const DNS_LATENCY_BOUNDS_US: readonly number[] = [
  250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
];

/** One row of the in-kernel aggregation: client netns × client × server (before DNAT) × rcode, since the last drain. */
export interface DnsRow {
  netns: number;
  family: 4 | 6;
  /** IP protocol number: 17 udp, 6 tcp */
  proto: number;
  /** the client's address as its socket sent from (before SNAT) */
  client: string;
  /** the server as the client sent to it (before DNAT): a ClusterIP, an endpoint, a node-local cache, an upstream */
  server: string;
  serverPort: number;
  /** the answers' header rcode; null for the row of queries, whose answer fields are 0 */
  rcode: number | null;
  /** first sends */
  queries: number;
  /** sent again (same id, port and server) while unanswered */
  retries: number;
  /** not answered within 1 s (some are answered later) */
  late: number;
  /** not answered within 5 s: no longer waited for */
  unanswered: number;
  /** in flight when the drain swept: a level, not a count */
  pending: number;
  answers: number;
  /** the answers' latencies summed, from the query's first send */
  latencyNs: number;
  /** answers per latency bucket (DNS_LATENCY_BOUNDS_US, and one above the last), not cumulative */
  buckets: number[];
}

export interface DnsDrainResult {
  rows: DnsRow[];
  /** totals since start(), summed over CPUs */
  counters: DnsCounters;
}

export type DnsHook = 'cgroup_skb' | 'tracepoints';

export interface DnsTracerOptions {
  /** kernel BTF for CO-RE; '' = the running kernel's */
  btfPath: string;
  /** the cgroup v2 root whose sockets cgroup_skb sees; '' = none (the tracepoints) */
  cgroupPath: string;
  /** 'auto': cgroup_skb where the kernel and cgroupPath allow it, else the device tracepoints */
  hook: 'auto' | DnsHook;
  /** capacity of the queries waiting for an answer: full, it refuses new ones (counted: pendingFull) */
  maxQueries: number;
  /** capacity of the aggregation (LRU) */
  maxFlows: number;
}

export interface DnsStartInfo {
  hook: DnsHook;
  programs: string[];
  /** what this kernel or host lacks, each with why */
  missing: string[];
  log: string[];
  /** the kernel side's bucket bounds, µs: DNS_LATENCY_BOUNDS_US unless the two sides were built apart */
  latencyBoundsUs: number[];
}

/** Lifecycle as NativeDropTracer's. */
export interface NativeDnsTracer {
  start(options: DnsTracerOptions): Promise<DnsStartInfo>;
  /** sweeps the pending queries (late at 1 s, unanswered at 5 s), then drains; rejects with code EBUSY while one runs */
  drain(): Promise<DnsDrainResult>;
  /** detaches every program and frees every map; idempotent */
  stop(): void;
}

/** Slots of ConnectionRecord.latencyUs: FW_CONN_LATENCY_SLOTS in native/bpf/connections.h. */
export const CONNECT_LATENCY_SLOTS = 27;

/** TCP connects from one client address to one destination, since the previous drain. */
export interface ConnectionRecord {
  /** inode of the client socket's network namespace */
  netns: number;
  family: 4 | 6;
  /** the client socket's own address */
  saddr: string;
  /** where it connected, as the socket sees it: a Service's ClusterIP, never the endpoint DNAT chose */
  daddr: string;
  dport: number;
  /** → SYN_SENT */
  attempted: number;
  /** SYN_SENT → ESTABLISHED */
  established: number;
  /** SYN_SENT → CLOSE: refused, reset, timed out, or given up by the application */
  failed: number;
  /**
   * SYN sent → established, of the established connects whose start the tracker saw: slot i counts those of
   * [2^i, 2^(i+1)) µs (slot 0 also shorter, the last also longer); CONNECT_LATENCY_SLOTS slots
   */
  latencyUs: number[];
  latencySumUs: number;
}

/**
 * The connection tracker's counters, in the kernel's order: FW_CONN_STATS in native/bpf/connections.h names the
 * same list (connects seen, keys inserted, inserts a full map refused, handshake ends without their start).
 */
export const CONNECTION_COUNTERS = ['connects', 'connectionKeys', 'connectionMapFull', 'untimed'] as const;

export type ConnectionCounters = Record<(typeof CONNECTION_COUNTERS)[number], number>;

export interface ConnTrackerOptions {
  /** kernel BTF for CO-RE; '' = the running kernel's */
  btfPath: string;
  /** capacity of the in-kernel aggregation (LRU) by client address × destination */
  maxKeys: number;
  /** capacity of the per-socket SYN times (LRU): connects in SYN_SENT at once that get a latency */
  maxPending: number;
}

/** Lifecycle as NativeDropTracer's. */
export interface NativeConnTracker {
  /** attaches tp_btf/inet_sock_set_state; rejects (with libbpf's `log`) when it cannot */
  start(options: ConnTrackerOptions): Promise<{ log: string[] }>;
  /**
   * records since the previous drain; `missed`: state changes the kernel skipped since start() because the program
   * was already running on that CPU (bpf_prog_info.recursion_misses). Rejects with code EBUSY while a drain runs.
   */
  drain(): Promise<{ connections: ConnectionRecord[]; counters: ConnectionCounters; missed: number }>;
  /** detaches the program and frees the maps; idempotent */
  stop(): void;
}

/** Lifecycle as NativeDropTracer's. */
export interface NativeNetnsIterator {
  /** loads the task iterator (iter/task); rejects (with libbpf's `log`) when it cannot */
  start(options: { btfPath: string }): Promise<{ log: string[] }>;
  /**
   * The network namespace inodes of every task in this process's PID namespace, sorted, each once. Needs no
   * ptrace access to the tasks. Reads may overlap.
   */
  read(): Promise<number[]>;
  /** frees the iterator; idempotent */
  stop(): void;
}

/** Bits of a conntrack entry's status (enum ip_conntrack_status). */
export const IPS_SEEN_REPLY = 2;
export const IPS_ASSURED = 4;

/** One netns's conntrack table, over ctnetlink. */
export interface ConntrackStats {
  /**
   * Per-CPU counters summed over CPUs, named as `conntrack -S` prints them (found, invalid, insert,
   * insert_failed, drop, early_drop, error, search_restart, clash_resolve, chaintoolong, …): only those
   * this kernel reports; one it has but we cannot name is `stat_<n>`.
   */
  counters: Record<string, number>;
  /** entries in the table now */
  entries: number;
  /** nf_conntrack_max */
  max: number;
  /** CPUs that reported counters */
  cpus: number;
}

export interface ConntrackAggregateOptions {
  /** '' = the process's own netns; else a netns file such as /run/netns/NAME or /proc/PID/ns/net */
  netnsPath: string;
  /** 4 or 6 for one family, 0 for both */
  family: 0 | 4 | 6;
  /** only flows whose status & mask === value (IPS_* bits); mask ≠ 0. The kernel filters the dump. */
  status?: { value: number; mask: number };
  /** most groups returned; the smaller rest are summed into one last group with daddr '*'. 0 or absent = all */
  maxGroups?: number;
}

/** Flows by original destination (the ClusterIP before DNAT) × protocol × TCP state. */
export interface ConntrackGroup {
  daddr: string;
  dport: number;
  /** IP protocol number */
  proto: number;
  /** TCP conntrack state as conntrack(8) prints it ('SYN_SENT', 'ESTABLISHED', …); '' for other protocols */
  state: string;
  flows: number;
  /** flows without IPS_SEEN_REPLY: nothing came back */
  unreplied: number;
  /** flows with IPS_ASSURED */
  assured: number;
}

/**
 * ConntrackGroups as columns, largest first (kernel/conntrack.ts makes the objects): thousands of objects
 * built in C++ would hold the event loop for tens of milliseconds.
 */
export interface ConntrackGroupColumns {
  /** daddr of each group, joined by '\n'; '' when there is none */
  daddrs: string;
  /** state of each group, joined by '\n' */
  states: string;
  /** five per group: dport, proto, flows, unreplied, assured */
  values: Uint32Array;
}

/** The flows of a netns waiting for a reply, followed from one dump to the next (`new UnrepliedFlows({ maxFlows })`). */
export interface NativeUnrepliedFlows {
  /**
   * One dump of the entries that never saw a reply (the kernel filters it): `waiting`, by original destination
   * and state; `died`, the flows the previous dump saw that this one did not, whose timeout had run out (flows =
   * unreplied), by original destination and their last state. Past maxGroups destinations the rest are summed under
   * '*'. `unfollowed`: waiting flows not followed since the last dump (past maxFlows), whose deaths go uncounted.
   * One dump at a time: another while one runs rejects.
   */
  dump(options: { netnsPath: string; maxGroups: number }): Promise<{ waiting: ConntrackGroupColumns; died: ConntrackGroupColumns; unfollowed: number }>;
}

/** Errors from the addon: the failing call, errno and its code. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface Addon {
  DropTracer: new () => NativeDropTracer;
  UnrepliedFlows: new (options: { maxFlows: number }) => NativeUnrepliedFlows;
  DnsTracer: new () => NativeDnsTracer;
  ConnTracker: new () => NativeConnTracker;
  NetnsIterator: new () => NativeNetnsIterator;
  conntrackStats(netnsPath: string): Promise<ConntrackStats>;
  /** one ctnetlink dump, aggregated on a worker thread */
  conntrackAggregate(options: ConntrackAggregateOptions): Promise<ConntrackGroupColumns>;
  /**
   * iptables-legacy's tables (`tables`, or all the netns has when empty) straight from the kernel, printed as
   * `iptables-save -c` prints them with the options the rules parser reads (kubeproxy/dumps.ts), handed to
   * `onText` in slices of whole lines as they are printed; settles once the last slice is handed over
   */
  iptablesLegacySave(options: { netnsPath: string; family: 4 | 6; tables: string[] }, onText: (slice: Buffer) => void): Promise<void>;
  /** kernel addresses → the function each lies in, e.g. 'nft_do_chain' (null when unknown), by one pass over a kallsyms file */
  resolveKernelAddresses(path: string, addrs: bigint[]): Promise<(string | null)[]>;
}

/** A netns for the addon: '' for our own, /run/netns/NAME for a name, an absolute path as it is. */
export function netnsPath(netns?: string): string {
  if (netns === undefined || netns === '') return '';
  if (typeof netns !== 'string' || netns.includes('\0')) throw new TypeError(`bad netns ${String(netns)}`);
  if (netns.startsWith('/')) return netns;
  if (!/^[A-Za-z0-9_.-]+$/.test(netns) || netns === '.' || netns === '..') {
    throw new TypeError(`bad netns name ${JSON.stringify(netns)}: give a name under /run/netns or an absolute path`);
  }
  return `/run/netns/${netns}`;
}

let cached: Addon | undefined;

/** Loads the addon (prebuilds/ first, then build/). Throws a NativeError-like Error if it cannot. */
export function addon(): Addon {
  cached ??= nodeGypBuild(path.join(__dirname, '..', '..')) as Addon;
  return cached;
}
