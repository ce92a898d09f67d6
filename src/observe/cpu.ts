// What the CPU throttling source (src/cpu/) hands to the rest of the daemon: plain data per pod and interval.
import type { PodRef } from './objects';

/** A cgroup's throttling over one interval (deltas of its counters). */
export interface ThrottleFigures {
  /** CFS enforcement periods in which the cgroup had runnable tasks */
  periods: number;
  /** of those, the periods in which it ran out of quota */
  throttledPeriods: number;
  /** time its runqueues spent throttled, summed over CPUs (so it can exceed the interval on a multi-CPU node) */
  throttledMs: number;
}

export interface ContainerThrottle extends ThrottleFigures {
  /** the runtime's container ID (the pod's sandbox, pause, is one of them) or the cgroup's directory name */
  id: string;
}

/** A pod that was throttled in the interval (since, at]: by its own quota or by one of its containers'. */
export interface CpuThrottleObservation extends ThrottleFigures {
  /** ms since the epoch: when the interval's counters were read */
  at: number;
  /** ms since the epoch: the previous read, where the interval starts */
  since: number;
  pod: PodRef | undefined;
  uid: string;
  /**
   * whose figures these are: 'pod', or the ID of the container that was throttled most. kubelet sets a CFS quota on
   * the pod's cgroup and on each container's, and each counts only the throttling its own quota causes.
   */
  throttledIn: string;
  /** CPU time the whole pod used */
  usageMs: number;
  /** time some task of the pod waited for a CPU (PSI), where the kernel keeps cpu.pressure for the pod's cgroup */
  pressureSomeMs?: number;
  /** PSI's `some avg10` at the read: percent of the last 10 s */
  pressureSomeAvg10?: number;
  /** the pod's containers that were throttled, each by its own figures */
  containers: ContainerThrottle[];
}
