// A Service as flapwatch keeps it: its addresses, its ports and the active probe its annotations ask for.
// Bad annotation values fall back to the default and are listed as problems (the source warns once).
import type { Protocol } from '../observe/net';
import type { ActiveProbeSpec } from '../observe/objects';
import { arr, num, str, type WireService } from './wire';

export const ANNOTATIONS = {
  health: 'flapwatch.io/health',
  port: 'flapwatch.io/health-port',
  interval: 'flapwatch.io/health-interval',
  timeout: 'flapwatch.io/health-timeout',
} as const;
export const DEFAULT_INTERVAL_SECONDS = 10;
export const DEFAULT_TIMEOUT_SECONDS = 2;

/** A port of the Service's spec. */
export interface SpecPort {
  /** '' for an unnamed port */
  name: string;
  protocol: Protocol;
  port: number;
  nodePort?: number;
}

export interface ServiceRecord {
  namespace: string;
  name: string;
  /** none for a headless Service */
  clusterIPs: string[];
  externalIPs: string[];
  loadBalancerIPs: string[];
  ports: SpecPort[];
  activeProbe: ActiveProbeSpec | undefined;
  /** what was wrong with its flapwatch.io annotations, in words */
  problems: string[];
}

const NO_PROBLEMS: string[] = [];
const PROTOCOLS: Record<string, Protocol> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

export function protocolFrom(value: unknown): Protocol | undefined {
  return value === undefined ? 'tcp' : PROTOCOLS[str(value)];
}

/** undefined for what kube-proxy ignores too (ExternalName) */
export function serviceRecord(svc: WireService): ServiceRecord | undefined {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return undefined;
  const problems: string[] = [];
  const ports: SpecPort[] = [];
  for (const p of arr(spec.ports)) {
    const protocol = protocolFrom(p.protocol);
    const port = num(p.port);
    if (!protocol || !port) {
      problems.push(`port ${str(p.name) || '?'}: unknown protocol ${str(p.protocol)} or no port number`);
      continue;
    }
    const nodePort = num(p.nodePort);
    ports.push({ name: str(p.name), protocol, port, nodePort: nodePort || undefined });
  }
  const clusterIPs = arr(spec.clusterIPs).length ? arr(spec.clusterIPs) : [str(spec.clusterIP)];
  const ips = (list: unknown[]) => [...new Set(list.filter((ip): ip is string => typeof ip === 'string' && ip !== '' && ip !== 'None'))];
  const activeProbeSpec = activeProbe(svc.metadata?.annotations ?? {}, ports, problems);
  return {
    namespace: str(svc.metadata?.namespace),
    name: str(svc.metadata?.name),
    clusterIPs: ips(clusterIPs),
    externalIPs: ips(arr(spec.externalIPs)),
    loadBalancerIPs: ips(arr(svc.status?.loadBalancer?.ingress).map((i) => i.ip)),
    ports: ports.slice(), // exact length: a pushed-to array keeps spare room
    activeProbe: activeProbeSpec,
    problems: problems.length ? problems : NO_PROBLEMS,
  };
}

function seconds(annotations: Record<string, string>, key: string, fallback: number, problems: string[]): number {
  const value = annotations[key];
  if (value === undefined) return fallback;
  const m = /^\s*(\d+(?:\.\d+)?)\s*s?\s*$/.exec(str(value));
  const n = m ? Number(m[1]) : NaN;
  if (n > 0) return n;
  problems.push(`${key}: "${value}" is not a number of seconds above 0, using ${fallback}`);
  return fallback;
}

function activeProbe(annotations: Record<string, string>, ports: SpecPort[], problems: string[]): ActiveProbeSpec | undefined {
  const path = annotations[ANNOTATIONS.health];
  if (path === undefined) return undefined;
  if (!str(path).startsWith('/')) {
    problems.push(`${ANNOTATIONS.health}: "${path}" is not a path starting with /, no active probe`);
    return undefined;
  }
  const first = ports[0];
  if (!first) {
    problems.push(`${ANNOTATIONS.health}: the Service has no port to probe`);
    return undefined;
  }
  let port = first;
  const wanted = annotations[ANNOTATIONS.port];
  if (wanted !== undefined) {
    const found = /^\d+$/.test(str(wanted)) ? ports.find((p) => p.port === Number(wanted)) : ports.find((p) => p.name === wanted);
    if (found) port = found;
    else problems.push(`${ANNOTATIONS.port}: "${wanted}" names no port of the Service, using ${first.port}`);
  }
  return {
    path,
    port: port.port,
    intervalSeconds: seconds(annotations, ANNOTATIONS.interval, DEFAULT_INTERVAL_SECONDS, problems),
    timeoutSeconds: seconds(annotations, ANNOTATIONS.timeout, DEFAULT_TIMEOUT_SECONDS, problems),
  };
}
