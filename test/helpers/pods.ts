// This node's pods as the correlator looks them up, indexed as KubeSource indexes them (the same PodStore).
import { PodStore } from '../../src/kube/pod-store';
import type { PodInfo, PodLookup } from '../../src/observe/objects';

export function podLookup(pods: readonly PodInfo[] = []): PodLookup {
  const store = new PodStore();
  for (const p of pods) store.set(`${p.namespace}/${p.name}`, p);
  return { pod: (ref) => store.get(`${ref.namespace}/${ref.name}`), podByIp: (ip) => store.byIp(ip) };
}
