// The health side of `run`: the Kubernetes API (Services, EndpointSlices, this node's pods, Unhealthy Events),
// kubelet's probe metrics, active probes, listen-queue overflows — each a source of its own, their health
// results normalized into one stream for the correlator. Standalone (no API), only --probe URLs and the
// overflows run.
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config';
import type { ActiveProber } from '../health/active';
import { fromReadinessFlip, fromUnhealthyEvent } from '../health/events';
import type { KubeletProbeSource } from '../health/kubelet';
import { ListenOverflowReader } from '../health/listen';
import { CpuThrottleReader } from '../cpu/reader';
import { podByUid, probeLookup } from '../health/pods';
import type { KubeSource } from '../kube/source';
import type { HealthObservation } from '../observe/health';
import { Listeners } from '../observe/listeners';
import type { PodInfo, PodLookup, PodRef } from '../observe/objects';
import type { Source } from '../observe/source';
import type { ServiceIndex } from '../services/index';

export interface HealthSources {
  kube?: KubeSource;
  cpu?: CpuThrottleReader;
  kubelet?: KubeletProbeSource;
  active?: ActiveProber;
  listen?: ListenOverflowReader;
  /** this node's pods, as the API knows them (none standalone) */
  pods: () => PodInfo[];
  /** the same, looked up by name or address */
  podLookup: PodLookup;
  onHealth(listener: (items: HealthObservation[]) => void): () => void;
  all: Source[];
}

export interface HealthSourcesOptions extends ClusterConfig {
  /** the API's Services are published here; active probes read their targets from it */
  index: ServiceIndex;
  /** how often listen overflows, and pods' CPU throttling, are read */
  listenIntervalMs: number;
  logger: Logger;
}

const podRef = (p: PodInfo | undefined): PodRef | undefined => p && { namespace: p.namespace, name: p.name };

export function healthSources(o: HealthSourcesOptions): HealthSources {
  const { logger, index } = o;
  const health = new Listeners<HealthObservation>((err) => logger.error({ err }, 'a health subscriber failed'));
  // Loaded only when used: TLS and the API's plumbing cost a standalone daemon memory it would never use.
  const kube = o.kubernetes
    ? new (require('../kube/source') as typeof import('../kube/source')).KubeSource({ kubeconfig: o.kubernetes.kubeconfig, inCluster: { dir: o.kubernetes.serviceAccountDir }, nodeName: o.nodeName, logger })
    : undefined;
  const pods = () => kube?.pods() ?? [];
  const probes = probeLookup(pods);
  const all: Source[] = [];
  if (kube) {
    kube.onServices((ports) => index.publish('kubernetes', ports));
    kube.onUnhealthy((events) => health.emit(events.flatMap((e) => fromUnhealthyEvent(e, probes) ?? [])));
    kube.onReadiness((flips) => health.emit(flips.flatMap((f) => fromReadinessFlip(f, probes) ?? [])));
    all.push(kube);
  }
  const kubelet = o.kubelet ? new (require('../health/kubelet') as typeof import('../health/kubelet')).KubeletProbeSource({ ...o.kubelet, probes, logger }) : undefined;
  if (kubelet) {
    kubelet.onObservations((items) => health.emit(items));
    all.push(kubelet);
  }
  // Services opt in by annotation, so the prober runs whenever the API does; standalone only for --probe URLs.
  const active = kube || o.probes.length
    ? new (require('../health/active') as typeof import('../health/active')).ActiveProber({
      targets: () => index.ports(), urls: o.probes, concurrency: o.probeConcurrency, redact: o.redactPayloads, logger,
      serviceAt: (ip, port) => {
        const s = index.byVip(ip, port, 'tcp');
        return s && { namespace: s.namespace, name: s.name };
      },
    })
    : undefined;
  if (active) {
    active.onObservations((items) => health.emit(items));
    // targets follow the index as it fills, and the first ones are read once the API has published its Services
    index.onChange(() => active.refresh());
    all.push({ start: async () => { await kube?.start(); await active.start(); }, stop: () => active.stop(), stats: () => active.stats() });
  }
  const listen = o.listenOverflows
    ? new ListenOverflowReader({ intervalMs: o.listenIntervalMs, podByAddress: (ip) => podRef(kube?.podByIp(ip)), logger })
    : undefined;
  if (listen) all.push(listen);
  // throttling is mapped to pods by their UID: only the API knows them
  const cpu = kube && o.cpuThrottling
    ? new CpuThrottleReader({ intervalMs: o.listenIntervalMs, root: o.cpuThrottling.mount, cgroupRoot: o.cpuThrottling.cgroupRoot, podByUid: podByUid(pods), logger })
    : undefined;
  if (cpu) all.push(cpu);
  return {
    ...(kube && { kube }),
    ...(cpu && { cpu }),
    ...(kubelet && { kubelet }),
    ...(active && { active }),
    ...(listen && { listen }),
    pods,
    podLookup: { pod: (ref) => kube?.pod(ref), podByIp: (ip) => kube?.podByIp(ip) },
    onHealth: (listener) => health.add(listener),
    all,
  };
}
