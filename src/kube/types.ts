// What the Kubernetes source hands to the rest of the daemon, beside the ServiceIndex it feeds.
import type { PodRef, ServiceRef } from '../observe/objects';

/** A kubelet `Unhealthy` Event (a failed probe) for a pod on this node. */
export interface UnhealthyEvent {
  pod: PodRef;
  /** the Event's uid: kubelet counts repeats of one failure on one Event */
  uid: string;
  /** kubelet's text, e.g. `Readiness probe failed: Get "http://10.1.0.5:8080/health": context deadline exceeded` */
  message: string;
  /** how much Event.count rose since we last saw this Event; its whole count when first seen */
  count: number;
  /** ms since the epoch: series.lastObservedTime, lastTimestamp or eventTime */
  at: number;
  /** from involvedObject.fieldPath (`spec.containers{web}`), when kubelet named the container */
  container?: string;
}

/** An endpoint on this node whose EndpointSlice readiness changed. */
export interface ReadinessFlip {
  /** the Service's namespace and name */
  service: ServiceRef;
  pod?: PodRef;
  addr: string;
  ready: boolean;
  /** ms since the epoch: when the change reached us (EndpointSlices carry no time per endpoint) */
  at: number;
}
