// What the health sources (kubelet, Events, EndpointSlices, active probes, listen queues) hand to the correlator.
import type { Address } from './net';
import type { PodRef, ServiceRef } from './objects';

export type HealthSource = 'kubelet' | 'event' | 'endpointslice' | 'active';

/** How a check failed, as far as its message tells. */
export type FailureKind = 'timeout' | 'refused' | 'reset' | 'http-status' | 'exec' | 'unknown';

/** Which way an active probe went: through the Service's ClusterIP (kube-proxy's DNAT) or straight to a pod. */
export type ProbePath = 'cluster_ip' | 'pod' | 'url';

/** One health-check result. Passive sources (kubelet, events, EndpointSlices) report failures only. */
export interface HealthObservation {
  /** ms since the epoch: when the check failed (for a counted kubelet failure: when the count rose) */
  at: number;
  source: HealthSource;
  ok: boolean;
  /** the Service the check speaks for, when known (active probes always; others from the pod's Services) */
  service?: ServiceRef;
  pod?: PodRef;
  container?: string;
  /** 'Readiness' | 'Liveness' | 'Startup' for kubelet's; 'GET /health' and the like for active probes */
  probe: string;
  path?: ProbePath;
  /** where the check was sent, when known */
  target?: Address;
  kind: FailureKind;
  /** HTTP status when there was one */
  status?: number;
  /** the message in plain words: the Event's text, the error, the status line */
  detail: string;
  /** how far before `at` a cause may lie: the probe's timeout plus its period */
  lookbackMs: number;
  /** how long the check waited for its answer (the probe's timeout), when known */
  timeoutMs?: number;
  /** a JSON health payload, truncated and redacted: for display only, never trusted */
  payload?: unknown;
  /** dependencies the payload says are down (`checks`/`details`/`dependencies` with a non-ok status) */
  failedDependencies?: string[];
  /**
   * active probes: the immediate retry after a failure, and whether it succeeded; filled in on the observation
   * already handed on, when the retry ends (a judgement made before then has none)
   */
  retry?: { ok: boolean; detail: string };
  /** events that say how many times kubelet saw the failure (Event.count deltas, counter deltas) */
  count?: number;
}

/** Listen-queue overflows in one pod's network namespace over an interval (deltas of TcpExt counters). */
export interface ListenOverflowObservation {
  at: number;
  /** inode of the netns */
  netns: number;
  /** the namespace's own addresses, to attribute it to a pod */
  addrs: string[];
  pod?: PodRef;
  listenOverflows: number;
  listenDrops: number;
}
