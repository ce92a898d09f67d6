// The network vocabulary every room shares: protocols, addresses, flows.

/** The transport protocols a Service port may have. */
export type Protocol = 'tcp' | 'udp' | 'sctp';

const PROTOCOLS: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

/** A Service protocol from an IP protocol number; undefined for those a Service cannot have (ICMP, …). */
export function protocolOf(ipProto: number): Protocol | undefined {
  return PROTOCOLS[ipProto];
}

/** `tcp`, `icmpv6`, or `proto_<n>`: any IP protocol number, for display. */
export function protoName(ipProto: number): string {
  return PROTO_NAMES[ipProto] ?? `proto_${ipProto}`;
}

/** An IP address and a port (0 where the protocol has none). */
export interface Address {
  ip: string;
  port: number;
}

/** `10.0.0.1:80`, `[fd00::1]:80`; the bare address for port 0. */
export function hostPort(a: Address): string {
  if (!a.port) return a.ip;
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/** hostPort's inverse: `10.0.0.1:80`, `[fd00::1]:80` → address and port; undefined for anything else. */
export function parseHostPort(s: string): Address | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  return m ? { ip: (m[1] ?? m[2])!, port: Number(m[3]) } : undefined;
}

/** A flow as the kernel saw it. Addresses are printable strings, ports in host order. */
export interface FlowTuple {
  family: 4 | 6;
  /** IP protocol number: 6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp */
  proto: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}
