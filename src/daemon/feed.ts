// What flows into the judge and the metrics as the sources deliver it: the node's intervals, health results (and
// the reads a failure's window asks for), listen overflows and CPU throttling handed over per read (a read covers
// its time, found or not), drop samples; the judge's incidents into the log and its failures into the metrics.
import type { Logger } from 'pino';
import type { Correlator } from '../correlate/correlator';
import type { NodeSources } from '../node/sources';
import type { CpuThrottleObservation } from '../observe/cpu';
import type { ListenOverflowObservation } from '../observe/health';
import { logIncidents } from '../report/incident-log';
import type { daemonMetrics } from '../report/metrics/index';
import { attributeThrottle } from '../services/attribute';
import type { HealthSources } from './health-sources';

export function feed(node: NodeSources, health: HealthSources, correlator: Correlator, metrics: ReturnType<typeof daemonMetrics>, logger: Logger): void {
  const { index } = node;
  node.intervals.onInterval((list) => {
    for (const iv of list) {
      metrics.interval(iv);
      correlator.addInterval(iv);
    }
  });
  health.onHealth((items) => {
    correlator.addHealth(items);
    // a failure's window is complete once overflows are read past its end: read them then, not a scan later
    const failed = items.filter((i) => !i.ok);
    if (!failed.length) return;
    readBy(health, Math.max(...failed.map((i) => correlator.windowEnd(i))));
  });
  let overflows: ListenOverflowObservation[] = [];
  health.listen?.onObservations((items) => {
    metrics.overflows(items);
    overflows.push(...items);
  });
  health.listen?.onRead((at) => {
    correlator.addListenOverflows(overflows, at);
    overflows = [];
  });
  let throttles: CpuThrottleObservation[] = [];
  health.cpu?.onObservations((items) => {
    metrics.throttles(items.map((o) => attributeThrottle(index, o, (pod) => health.kube?.pod(pod)?.ips ?? [])));
    throttles.push(...items);
  });
  health.cpu?.onRead((at) => {
    correlator.addCpuThrottles(throttles, at);
    throttles = [];
  });
  node.drops.onSamples((samples) => correlator.addSamples(samples));
  correlator.onIncident((list) => logIncidents(logger, list));
  correlator.onFailure((list) => metrics.failures(list));
}

/** The reads that cover `at` (ms since the epoch) from the sources read on their own cadence: the evidence up to then. */
export function readBy(health: HealthSources, at: number): void {
  health.listen?.readBy(at);
  health.cpu?.readBy(at);
}
