// Lookups the health sources take from whoever knows the pods (the kube source): a pod's probe spec and the
// pod an address belongs to, and the windows a probe's timing gives. Plain functions, so a source never depends
// on how pods are watched.
import type { PodInfo, PodRef, ProbeSpec, ProbeType } from '../observe/objects';

/** A pod's probe of `type`; `container` undefined when the caller does not know it (an Event's message). */
export type ProbeLookup = (pod: PodRef, container: string | undefined, type: ProbeType) => ProbeSpec | undefined;

export type PodByAddress = (ip: string) => PodRef | undefined;

/** The pod with this metadata.uid (what kubelet names its cgroup after). */
export type PodByUid = (uid: string) => PodRef | undefined;

/** kubelet's defaults: timeoutSeconds 1, periodSeconds 10, failureThreshold 3. */
export const DEFAULT_PROBE = { timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 3 } as const;

type Timing = Pick<ProbeSpec, 'timeoutSeconds' | 'periodSeconds' | 'failureThreshold'>;

/** How long the probe waits for its answer. */
export function probeTimeoutMs(spec: Timing | undefined): number {
  return (spec ?? DEFAULT_PROBE).timeoutSeconds * 1000;
}

/** How far before a failed probe its cause may lie: its timeout plus its period. */
export function probeLookbackMs(spec: Timing | undefined): number {
  const s = spec ?? DEFAULT_PROBE;
  return (s.timeoutSeconds + s.periodSeconds) * 1000;
}

/** A readiness flip follows failureThreshold failures in a row: the first of them lies that many periods back. */
export function flipLookbackMs(spec: Timing | undefined): number {
  const s = spec ?? DEFAULT_PROBE;
  return (s.timeoutSeconds + s.periodSeconds * s.failureThreshold) * 1000;
}

/** A ProbeLookup over the pods on this node, read at each call. */
export function probeLookup(pods: () => Iterable<PodInfo>): ProbeLookup {
  return (ref, container, type) => {
    for (const p of pods()) {
      if (p.namespace !== ref.namespace || p.name !== ref.name) continue;
      return p.probes.find((s) => s.type === type && (container === undefined || s.container === container));
    }
    return undefined;
  };
}

/** The pod with this UID, among the pods on this node. */
export function podByUid(pods: () => Iterable<PodInfo>): PodByUid {
  return (uid) => {
    for (const p of pods()) if (p.uid === uid) return { namespace: p.namespace, name: p.name };
    return undefined;
  };
}
