// ServiceIndex: which Service an address belongs to. The wiring publishes whole views from the sources that
// know Services (kube-proxy's rules, the Kubernetes API) through the same call; the API's view of a Service wins
// over the rules'.
import type { Protocol } from '../observe/net';
import { objectKey, vipsOf, type PodRef, type ServicePort } from '../observe/objects';

/** Publishers, weakest first: a later one's view of a Service replaces an earlier one's. */
export const SOURCES = ['rules', 'kubernetes'] as const;
export type IndexSource = (typeof SOURCES)[number];

const addrKey = (ip: string, port: number, proto: Protocol) => `${ip}|${port}|${proto}`;

export class ServiceIndex {
  private readonly changed: (() => void)[] = [];
  private readonly views = new Map<IndexSource, readonly ServicePort[]>();
  private readonly vips = new Map<string, ServicePort>();
  private readonly endpoints = new Map<string, ServicePort>();
  /** endpoint address → `ns/name` of every Service it backs */
  private readonly backing = new Map<string, string[]>();
  /** endpoint address → the node it runs on, and the pod it is, where the API said */
  private readonly nodes = new Map<string, string>();
  private readonly pods = new Map<string, PodRef>();
  private all: ServicePort[] = [];

  /** Replaces everything `source` said before. */
  publish(source: IndexSource, ports: readonly ServicePort[]): void {
    this.views.set(source, ports);
    this.rebuild();
    for (const fn of this.changed) fn();
  }

  /** Called after every publish. */
  onChange(listener: () => void): void {
    this.changed.push(listener);
  }

  /** The Service port a packet sent to ip:port is for: a ClusterIP, external or load-balancer IP, or an endpoint. */
  serviceAt(ip: string, port: number, proto: Protocol): ServicePort | undefined {
    return this.byVip(ip, port, proto) ?? this.byEndpoint(ip, port, proto);
  }

  /** The Service port whose ClusterIP / external IP:port a packet was sent to. */
  byVip(ip: string, port: number, proto: Protocol): ServicePort | undefined {
    return this.vips.get(addrKey(ip, port, proto));
  }

  /** The Service port an endpoint (pod IP:port) serves. */
  byEndpoint(ip: string, port: number, proto: Protocol): ServicePort | undefined {
    return this.endpoints.get(addrKey(ip, port, proto));
  }

  /** `ns/name` of every Service one of these addresses is an endpoint of. */
  servicesOf(ips: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const ip of ips) for (const key of this.backing.get(ip) ?? []) out.add(key);
    return [...out];
  }

  /** The node an endpoint address runs on, as its EndpointSlice says; undefined when unknown (the rules never say). */
  nodeOf(ip: string): string | undefined {
    return this.nodes.get(ip);
  }

  /** The pod an endpoint address is, as its EndpointSlice says. */
  podAt(ip: string): PodRef | undefined {
    return this.pods.get(ip);
  }

  byName(namespace: string, name: string): ServicePort[] {
    return this.all.filter((p) => p.namespace === namespace && p.name === name);
  }

  ports(): readonly ServicePort[] {
    return this.all;
  }

  private rebuild(): void {
    const owner = new Map<string, IndexSource>(); // Service → the strongest source that knows it
    for (const source of SOURCES) for (const p of this.views.get(source) ?? []) owner.set(objectKey(p), source);
    this.all = SOURCES.flatMap((source) => (this.views.get(source) ?? []).filter((p) => owner.get(objectKey(p)) === source));
    // refilled in place: a second set of maps beside the old would double them at the peak
    this.vips.clear();
    this.endpoints.clear();
    this.backing.clear();
    this.nodes.clear();
    this.pods.clear();
    for (const p of this.all) {
      const key = objectKey(p);
      for (const v of vipsOf(p)) this.vips.set(addrKey(v.ip, v.port, p.protocol), p);
      for (const e of p.endpoints) {
        this.endpoints.set(addrKey(e.ip, e.port, p.protocol), p);
        if (e.nodeName) this.nodes.set(e.ip, e.nodeName);
        if (e.pod) this.pods.set(e.ip, e.pod);
        const services = this.backing.get(e.ip);
        if (!services) this.backing.set(e.ip, [key]);
        else if (!services.includes(key)) services.push(key);
      }
    }
  }
}
