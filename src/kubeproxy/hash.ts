// kube-proxy's chain names, recomputed so that chains map back to Services without comments.
// iptables: pkg/proxy/iptables/proxier.go portProtoHash / servicePortEndpointChainName;
// nftables: pkg/proxy/nftables/proxier.go hashAndTruncate / servicePort(Endpoint)ChainNameBase.
import { hash } from 'node:crypto';
import { parseServicePortName } from '../observe/objects';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'; // RFC 4648, as Go's base32.StdEncoding

/** The first `chars` (at most 51) base32 characters of sha256(input), as Go's base32.StdEncoding. */
export function base32Sha256(input: string, chars: number): string {
  const digest = hash('sha256', input, 'buffer');
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; out.length < chars; i++) {
    acc = ((acc << 8) | digest[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
  }
  return out;
}

/** name[offset..offset+chars) is the base32 of sha256(input). */
export function hashMatches(name: string, offset: number, chars: number, input: string): boolean {
  return name.length >= offset + chars && name.startsWith(base32Sha256(input, chars), offset);
}

// KUBE-XLB- was the external chain of a Local-policy Service before 1.24 (now KUBE-EXT-); it jumps to local endpoints
export type ServiceChainPrefix = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-' | 'KUBE-XLB-';
export const SERVICE_CHAIN_PREFIXES: readonly ServiceChainPrefix[] = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-', 'KUBE-XLB-'];

/** The 16 characters shared by a Service port's SVC/SVL/EXT/FW/XLB chains. */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return base32Sha256(servicePortName + protocol, 16);
}

export function serviceChain(prefix: ServiceChainPrefix, servicePortName: string, protocol: string): string {
  return prefix + portProtoHash(servicePortName, protocol);
}

/** `endpoint` is `IP:port`, IPv6 as `[IP]:port`. */
export function endpointChain(servicePortName: string, protocol: string, endpoint: string): string {
  return 'KUBE-SEP-' + base32Sha256(servicePortName + protocol + endpoint, 16);
}

/** `chain` is the KUBE-SEP chain of this endpoint of this Service port. */
export function isEndpointChain(chain: string, servicePortName: string, protocol: string, endpoint: string): boolean {
  return chain.length === 25 && chain.startsWith('KUBE-SEP-') && hashMatches(chain, 9, 16, servicePortName + protocol + endpoint);
}

// knftables.NameLengthMax (256) minus the longest prefix (16)
const NFT_BASE_MAX = 240;

/** nftables mode: `HASH8-rest`, truncated with `...` as kube-proxy does (never reached with valid names). */
export function nftHashAndTruncate(rest: string): string {
  const name = `${base32Sha256(rest, 8)}-${rest}`;
  return name.length > NFT_BASE_MAX ? `${name.slice(0, NFT_BASE_MAX - 3)}...` : name;
}

/** `ns/svc/proto/portName` from `ns/svc:portName`. */
export function nftServiceRest(servicePortName: string, protocol: string): string {
  const p = parseServicePortName(servicePortName);
  return p ? `${p.namespace}/${p.name}/${protocol}/${p.portName}` : '';
}

/** `ns/svc/proto/portName__IP/port`; IPv6 colons become dots. */
export function nftEndpointRest(servicePortName: string, protocol: string, endpoint: string): string {
  const colon = endpoint.lastIndexOf(':');
  const ip = endpoint.slice(0, colon).replace(/^\[|\]$/g, '').replaceAll(':', '.');
  return `${nftServiceRest(servicePortName, protocol)}__${ip}/${endpoint.slice(colon + 1)}`;
}

export type NftChainKind = 'service' | 'local' | 'external' | 'firewall' | 'endpoint' | 'affinity';

export interface NftChainName {
  kind: NftChainKind;
  /** `ns/svc:port` */
  servicePortName: string;
  protocol: string;
  /** `IP/port` part of endpoint and affinity names, as written in the name (IPv6 with dots) */
  endpoint?: string;
  /** the HASH8 matches the rest of the name */
  verified: boolean;
}

const NFT_CHAIN = /^(service|local|external|firewall|endpoint|affinity)-([A-Z2-7]{8})-([^/]+)\/([^/]+)\/([a-z]+)\/([^_/]*)(?:__(.+))?$/;

/** Parses a Service or endpoint chain name of nftables mode; null for any other chain. */
export function parseNftChainName(chain: string): NftChainName | null {
  const m = NFT_CHAIN.exec(chain);
  if (!m) return null;
  const [, kind, , ns, svc, protocol, portName, endpoint] = m as unknown as string[];
  const rest = chain.slice(kind!.length + 10);
  return {
    kind: kind as NftChainKind,
    servicePortName: `${ns}/${svc}${portName ? `:${portName}` : ''}`,
    protocol: protocol!,
    ...(endpoint === undefined ? {} : { endpoint }),
    verified: hashMatches(chain, kind!.length + 1, 8, rest),
  };
}
