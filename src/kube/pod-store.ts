// This node's pods by name and by address. hostNetwork pods share the node's addresses, so an address names
// a pod only when the pod has its own network namespace.
import type { PodInfo } from '../observe/objects';

export class PodStore {
  private readonly byKey = new Map<string, PodInfo>();
  private readonly ips = new Map<string, PodInfo>();
  /** the first list is in */
  synced = false;

  has(namespace: string, name: string): boolean {
    return this.byKey.has(`${namespace}/${name}`);
  }

  set(key: string, pod: PodInfo): void {
    this.remove(key);
    this.byKey.set(key, pod);
    if (!pod.hostNetwork) for (const ip of pod.ips) this.ips.set(ip, pod);
  }

  remove(key: string): void {
    const old = this.byKey.get(key);
    if (!old) return;
    this.byKey.delete(key);
    for (const ip of old.ips) if (this.ips.get(ip) === old) this.ips.delete(ip);
  }

  get(key: string): PodInfo | undefined {
    return this.byKey.get(key);
  }

  byIp(ip: string): PodInfo | undefined {
    return this.ips.get(ip);
  }

  list(): PodInfo[] {
    return [...this.byKey.values()];
  }

  size(): number {
    return this.byKey.size;
  }
}
