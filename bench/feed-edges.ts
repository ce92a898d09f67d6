// Preloaded into the daemon by bench kube (node -r): the service graph's load fed to the daemon's own edge metrics
// as they are created, as if its workloads had made those connects, so that its /metrics serves all their series.
import * as edges from '../src/report/metrics/edges';
import { INTERVALS, observations, WORKLOADS } from './edge-load';

const create = edges.edgeMetrics;

(edges as unknown as { edgeMetrics: typeof create }).edgeMetrics = (registry, deps) => {
  const metrics = create(registry, deps);
  for (let round = 0; round < INTERVALS; round++) metrics.add(observations(WORKLOADS, round));
  return metrics;
};
