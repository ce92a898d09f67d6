// Who on this node sent a packet, for the service graph: a pod of this node by its address (the API's pods), or
// the node itself (its own addresses, which hostNetwork pods share). Any other address is no client of this node:
// its edge is counted on its own node, never twice.
import { networkInterfaces } from 'node:os';
import type { KubeSource } from '../kube/source';
import { objectKey, parseObjectKey, type PodInfo, type Workload } from '../observe/objects';
import type { WorkloadServices } from '../report/metrics/workloads';
import type { ServiceIndex } from '../services/index';
import type { ClientOf } from '../services/attribute';

const NODE: Workload = { namespace: '', kind: 'Node', name: 'node' };
// addresses change rarely (a new interface, DHCP): read again at most this often
const REREAD_MS = 60_000;

/** Each workload of this node's pods, with the Services its pods back. */
export function workloadServices(pods: readonly PodInfo[], index: ServiceIndex): WorkloadServices[] {
  const byKey = new Map<string, WorkloadServices>();
  for (const p of pods) {
    const key = `${p.workload.namespace}/${p.workload.kind}/${p.workload.name}`;
    const entry = byKey.get(key) ?? byKey.set(key, { workload: p.workload, services: [] }).get(key)!;
    for (const s of index.servicesOf(p.ips)) if (!entry.services.some((x) => objectKey(x) === s)) entry.services.push(parseObjectKey(s));
  }
  return [...byKey.values()];
}

export function clientsOf(kube: KubeSource | undefined, now: () => number = Date.now): ClientOf {
  let own = new Set<string>();
  let readAt = -Infinity;
  return (ip) => {
    const pod = kube?.podByIp(ip);
    if (pod) return pod.workload;
    if (now() - readAt > REREAD_MS) {
      own = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
      readAt = now();
    }
    return own.has(ip) ? NODE : undefined;
  };
}
