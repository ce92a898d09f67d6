// Services and their EndpointSlices → one ServicePort per Service port. They are rebuilt only for the Services
// that changed; the list handed out concatenates the cached ones. Readiness flips of this node's endpoints come
// from comparing a Service's local endpoints before and after a slice changed.
import type { EndpointView, ServicePort } from '../observe/objects';
import type { LocalEndpoint, SliceRecord } from './endpointslices';
import type { ServiceRecord } from './services';

export interface LocalFlip extends LocalEndpoint {
  /** the Service's `ns/name` */
  service: string;
}

export class ServiceStore {
  private readonly services = new Map<string, ServiceRecord>();
  private readonly slices = new Map<string, SliceRecord>();
  /** a Service's slice keys: an array, as most Services have one slice */
  private readonly slicesOf = new Map<string, string[]>();
  private readonly localOf = new Map<string, Map<string, LocalEndpoint>>();
  private readonly cache = new Map<string, ServicePort[]>();
  private readonly dirty = new Set<string>();
  private all: ServicePort[] = [];

  setService(key: string, rec: ServiceRecord): void {
    this.services.set(key, rec);
    this.dirty.add(key);
  }

  removeService(key: string): void {
    if (this.services.delete(key)) this.dirty.add(key);
  }

  /** Returns the readiness flips of this node's endpoints that the change makes. */
  setSlice(key: string, rec: SliceRecord): LocalFlip[] {
    const old = this.slices.get(key);
    if (old && old.service !== rec.service) this.detach(key, old.service);
    this.slices.set(key, rec);
    const keys = this.slicesOf.get(rec.service);
    if (!keys) this.slicesOf.set(rec.service, [key]);
    else if (!keys.includes(key)) this.slicesOf.set(rec.service, [...keys, key]);
    this.dirty.add(rec.service);
    return [...(old && old.service !== rec.service ? this.relocal(old.service) : []), ...this.relocal(rec.service)];
  }

  removeSlice(key: string): LocalFlip[] {
    const old = this.slices.get(key);
    if (!old) return [];
    this.slices.delete(key);
    this.detach(key, old.service);
    return this.relocal(old.service);
  }

  counts(): { services: number; slices: number; endpoints: number } {
    let endpoints = 0;
    for (const s of this.slices.values()) endpoints += s.ports[0]?.endpoints.length ?? 0;
    return { services: this.services.size, slices: this.slices.size, endpoints };
  }

  changed(): boolean {
    return this.dirty.size > 0;
  }

  views(): ServicePort[] {
    if (this.dirty.size === 0) return this.all;
    for (const key of this.dirty) {
      const svc = this.services.get(key);
      if (svc) this.cache.set(key, this.build(svc, key));
      else this.cache.delete(key);
    }
    this.dirty.clear();
    this.all = [...this.cache.values()].flat();
    return this.all;
  }

  private detach(sliceKey: string, service: string): void {
    const keys = this.slicesOf.get(service)?.filter((k) => k !== sliceKey);
    if (keys?.length) this.slicesOf.set(service, keys.slice());
    else this.slicesOf.delete(service);
    this.dirty.add(service);
  }

  private build(svc: ServiceRecord, key: string): ServicePort[] {
    const slices = (this.slicesOf.get(key) ?? []).map((k) => this.slices.get(k)!);
    return svc.ports.map((p) => {
      const lists: EndpointView[][] = [];
      for (const s of slices) for (const sp of s.ports) if (sp.name === p.name && sp.protocol === p.protocol) lists.push(sp.endpoints);
      const probe = svc.activeProbe && svc.activeProbe.port === p.port && p.protocol === 'tcp' ? svc.activeProbe : undefined;
      const view: ServicePort = {
        namespace: svc.namespace,
        name: svc.name,
        portName: p.name,
        protocol: p.protocol,
        port: p.port,
        clusterIPs: svc.clusterIPs,
        externalIPs: svc.externalIPs,
        loadBalancerIPs: svc.loadBalancerIPs,
        // one slice's list is shared as it is: slices are replaced whole, never changed in place
        endpoints: lists.length === 1 ? lists[0]! : lists.flat(),
        nodePort: p.nodePort,
        activeProbe: probe,
      };
      return view;
    });
  }

  // A Service's endpoints on this node, over all its slices (an address in two slices, as while the
  // controller moves it, is ready if either says so).
  private relocal(service: string): LocalFlip[] {
    const now = new Map<string, LocalEndpoint>();
    for (const k of this.slicesOf.get(service) ?? []) {
      for (const e of this.slices.get(k)!.local) {
        const seen = now.get(e.ip);
        if (!seen || (!seen.ready && e.ready)) now.set(e.ip, e);
      }
    }
    const before = this.localOf.get(service);
    if (now.size) this.localOf.set(service, now);
    else this.localOf.delete(service);
    const flips: LocalFlip[] = [];
    for (const [ip, e] of now) {
      const was = before?.get(ip);
      if (was && was.ready !== e.ready) flips.push({ ...e, service });
    }
    return flips;
  }
}
