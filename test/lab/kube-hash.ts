// kube-proxy's iptables chain names (pkg/proxy/iptables/proxier.go: portProtoHash, servicePortEndpointChainName).
import { createHash } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'; // RFC 4648 base32

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** First 16 base32 characters of sha256(input): the part after `KUBE-SVC-`, `KUBE-SEP-`, … */
export function kubeHash(input: string): string {
  return base32(createHash('sha256').update(input).digest()).slice(0, 16);
}

/** `servicePortName` is `ns/name` plus `:portName` when the port is named; protocol is lower-case. */
export function svcChain(servicePortName: string, protocol: string): string {
  return `KUBE-SVC-${kubeHash(servicePortName + protocol)}`;
}

/** `endpoint` is `IP:port` (`[IPv6]:port`). */
export function sepChain(servicePortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${kubeHash(servicePortName + protocol + endpoint)}`;
}
