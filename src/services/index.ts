// ServiceIndex: which Service an address belongs to. Sources publish whole views (kube-proxy's rules now,
// the Kubernetes API later, through the same call); the API's view of a Service wins over the rules'.
import type { PodRef } from '../observe/types';

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A Service port: the unit kube-proxy programs and the unit flapwatch attributes to. */
export interface ServicePortRef {
  namespace: string;
  name: string;
  /** the port's name, '' for an unnamed port */
  portName: string;
  protocol: Protocol;
}

export interface Address {
  ip: string;
  port: number;
}

/** An endpoint of a Service port; the Kubernetes API knows its pod, node and readiness, the rules only the address. */
export interface EndpointView extends Address {
  pod?: PodRef;
  nodeName?: string;
  /** EndpointSlice conditions.ready; absent when unknown (rules list only endpoints kube-proxy uses) */
  ready?: boolean;
}

/** An opt-in active health probe (annotation `flapwatch.io/health` and friends on the Service). */
export interface ActiveProbeSpec {
  /** HTTP path, e.g. /health */
  path: string;
  /** the Service port to probe through the ClusterIP; the endpoint's port straight to pods */
  port: number;
  intervalSeconds: number;
  timeoutSeconds: number;
}

export interface ServicePortView extends ServicePortRef {
  /** ClusterIPs, external and load-balancer IPs, each with the Service port */
  vips: Address[];
  nodePort?: number;
  endpoints: EndpointView[];
  /** from the API only */
  activeProbe?: ActiveProbeSpec;
}

/** Publishers, weakest first: a later one's view of a Service replaces an earlier one's. */
export const SOURCES = ['rules', 'kubernetes'] as const;
export type IndexSource = (typeof SOURCES)[number];

const PROTOCOLS: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

export function protocolOf(ipProto: number): Protocol | undefined {
  return PROTOCOLS[ipProto];
}

export function serviceKey(s: Pick<ServicePortRef, 'namespace' | 'name'>): string {
  return `${s.namespace}/${s.name}`;
}

/** `ns/svc:port` as kube-proxy writes it */
export function servicePortName(s: ServicePortRef): string {
  return s.portName ? `${serviceKey(s)}:${s.portName}` : serviceKey(s);
}

const addrKey = (ip: string, port: number, proto: Protocol) => `${ip}|${port}|${proto}`;

export class ServiceIndex {
  private readonly views = new Map<IndexSource, ServicePortView[]>();
  private readonly vips = new Map<string, ServicePortView>();
  private readonly endpoints = new Map<string, ServicePortView>();
  private readonly endpointIps = new Map<string, ServicePortView>();
  private all: ServicePortView[] = [];

  /** Replaces everything `source` said before. */
  publish(source: IndexSource, ports: ServicePortView[]): void {
    this.views.set(source, ports);
    this.rebuild();
  }

  /** The Service port whose ClusterIP / external IP:port a packet was sent to. */
  byVip(ip: string, port: number, proto: Protocol): ServicePortView | undefined {
    return this.vips.get(addrKey(ip, port, proto));
  }

  /** The Service port an endpoint (pod IP:port) serves; without a port, any Service the IP backs. */
  byEndpoint(ip: string, port?: number, proto?: Protocol): ServicePortView | undefined {
    if (port === undefined || proto === undefined) return this.endpointIps.get(ip);
    return this.endpoints.get(addrKey(ip, port, proto));
  }

  byName(namespace: string, name: string): ServicePortView[] {
    return this.all.filter((p) => p.namespace === namespace && p.name === name);
  }

  ports(): readonly ServicePortView[] {
    return this.all;
  }

  private rebuild(): void {
    const owner = new Map<string, IndexSource>(); // Service → the strongest source that knows it
    for (const source of SOURCES) for (const p of this.views.get(source) ?? []) owner.set(serviceKey(p), source);
    this.all = SOURCES.flatMap((source) => (this.views.get(source) ?? []).filter((p) => owner.get(serviceKey(p)) === source));
    // refilled in place: at 60,000 endpoints a second set of maps beside the old would be ~13 MB at the peak
    this.vips.clear();
    this.endpoints.clear();
    this.endpointIps.clear();
    for (const p of this.all) {
      for (const v of p.vips) this.vips.set(addrKey(v.ip, v.port, p.protocol), p);
      for (const e of p.endpoints) {
        this.endpoints.set(addrKey(e.ip, e.port, p.protocol), p);
        if (!this.endpointIps.has(e.ip)) this.endpointIps.set(e.ip, p);
      }
    }
  }
}
