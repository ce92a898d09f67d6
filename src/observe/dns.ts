// What the DNS source (src/kernel/dns.ts) hands to the rest of the daemon: one client's DNS to one server over a
// node interval, as the kernel counted it.
import type { Address, Protocol } from './net';

/** The header rcodes a verdict or a metric names; every other counts as other_rcode. */
export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

export interface DnsObservation {
  /** inode of the client's network namespace */
  netns: number;
  /** the client's address as its socket sent from: its pod's, or the node's */
  clientIp: string;
  /** the server as the client sent to it, before DNAT: a ClusterIP, an endpoint, a node-local cache, an upstream */
  server: Address;
  proto: Extract<Protocol, 'udp' | 'tcp'>;
  /** first sends */
  queries: number;
  /** sent again while unanswered (same id, port and server) */
  retries: number;
  /** not answered within 1 s: some of them were answered later */
  late: number;
  /** not answered within 5 s (glibc's retry): given up on */
  unanswered: number;
  /** still waiting for an answer at the interval's end */
  pending: number;
  /** answers by header rcode */
  answers: ReadonlyMap<number, number>;
  /** the answers' latencies: per bucket of DNS_LATENCY_BOUNDS_US and one above (not cumulative), and their sum */
  latency: { buckets: readonly number[]; sumSeconds: number };
}
