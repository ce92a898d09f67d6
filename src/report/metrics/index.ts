// Every metric the daemon exports, on one registry: the collectors read their sources at scrape time, the
// counters are fed by the calls below (one per kind of observation).
import { buildInfo } from '../../build-info';
import type { JudgedFailure } from '../../correlate/correlator';
import type { ProbeTotals } from '../../health/active-totals';
import type { ConntrackReading } from '../../kernel/conntrack-source';
import type { ListenOverflowObservation } from '../../observe/health';
import type { SourceStats } from '../../observe/source';
import type { MapSizes } from '../../kernel/memlock';
import type { NodeInterval } from '../../node/interval';
import type { AttributedThrottle } from '../../services/attribute';
import { buildInfoMetric } from './build-info';
import type { CapDeps } from './capped-counter';
import { conntrackMetrics } from './conntrack';
import { dnsMetrics } from './dns';
import { dropsMetric } from './drops';
import { edgeMetrics } from './edges';
import { healthMetrics } from './health';
import { kubeProxyMetrics } from './kubeproxy';
import { retransmitsMetric } from './retransmits';
import { sourceMetrics } from './sources';
import type { TextRegistry } from './text-registry';
import { tracerMetrics } from './tracer';
import { workloadMetrics, type WorkloadServices } from './workloads';

export interface DaemonMetricDeps extends CapDeps {
  stats: () => SourceStats[];
  conntrack: () => ConntrackReading | undefined;
  ruleProblems: () => ReadonlyMap<string, number>;
  ruleMissing: () => ReadonlyMap<string, number>;
  probeTotals: () => ProbeTotals | undefined;
  mapSizes: () => MapSizes | undefined;
  workloads: () => WorkloadServices[];
}

export function daemonMetrics(registry: TextRegistry, deps: DaemonMetricDeps) {
  const drops = dropsMetric(registry, deps);
  const dns = dnsMetrics(registry, deps);
  const edges = edgeMetrics(registry, deps);
  const retransmits = retransmitsMetric(registry, deps);
  const conntrack = conntrackMetrics(registry, { ...deps, current: deps.conntrack });
  const rules = kubeProxyMetrics(registry, { ...deps, problems: deps.ruleProblems, missing: deps.ruleMissing });
  const health = healthMetrics(registry, deps);
  sourceMetrics(registry, deps);
  tracerMetrics(registry, deps);
  workloadMetrics(registry, deps);
  buildInfoMetric(registry, buildInfo());
  return {
    interval(iv: NodeInterval): void {
      drops.add(iv.drops);
      if (iv.dns) dns.add(iv.dns);
      edges.add(iv);
      retransmits.add(iv.retransmits);
      conntrack.add(iv);
      rules.add(iv.rules);
    },
    failures: (list: JudgedFailure[]) => health.addFailures(list),
    overflows: (list: ListenOverflowObservation[]) => health.addOverflows(list),
    throttles: (list: AttributedThrottle[]) => health.addThrottles(list),
  };
}
