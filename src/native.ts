// The whole contract of the native addon (native/src). TypeScript validates every argument before it
// crosses; the addon trusts what it is given.
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';

/** A flow as the kernel saw it. Addresses are printable strings, ports in host order. */
export interface FlowTuple {
  family: 4 | 6;
  /** IP protocol number: 6 tcp, 17 udp, 1 icmp, 132 sctp, … */
  proto: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

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

/** Totals since start(), summed over CPUs, straight from the kernel side. */
export interface TracerCounters {
  drops: number;
  dropFlows: number;
  dropMapFull: number;
  retransmits: number;
  retransmitFlows: number;
  retransmitMapFull: number;
  samples: number;
  samplesLimited: number;
  samplesLost: number;
}

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
  /** called on the event loop with the samples read since the last call */
  onSamples: (samples: DropSample[]) => void;
}

export interface StartInfo {
  /** programs attached, e.g. ['kfree_skb_reason', 'tcp_retransmit_skb'] */
  programs: string[];
  /** hooks this kernel lacks, each with why: ['tcp_retransmit_synack: …'] */
  missing: string[];
  /** libbpf's messages during open/load */
  log: string[];
}

export interface NativeDropTracer {
  start(options: TracerOptions): Promise<StartInfo>;
  drain(): Promise<DrainResult>;
  /** detaches every program and frees every map; idempotent */
  stop(): void;
}

/** Errors from the addon: the failing call, errno and its code. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface Addon {
  DropTracer: new () => NativeDropTracer;
  /** enumerator value → name of a BTF enum ('skb_drop_reason'); {} when the type is absent */
  btfEnum(btfPath: string, name: string): Record<number, string>;
  /** kernel addresses → 'symbol+0xoff' (null when unknown) by one pass over a kallsyms file */
  resolveKernelAddresses(path: string, addrs: bigint[]): Promise<(string | null)[]>;
}

let cached: Addon | undefined;

/** Loads the addon (prebuilds/ first, then build/). Throws a NativeError-like Error if it cannot. */
export function addon(): Addon {
  cached ??= nodeGypBuild(path.join(__dirname, '..', '..')) as Addon;
  return cached;
}
