// Every metric the daemon exports, on one registry: the collectors read their sources at scrape time, the
// counters are fed by the calls below (one per kind of observation).
import type { Registry } from 'prom-client';
import { buildInfo } from '../../build-info';
import type { JudgedFailure } from '../../correlate/correlator';
import type { ProbeTotals } from '../../health/active-totals';
import type { ConntrackGroup } from '../../kernel/conntrack';
import type { ConntrackReading } from '../../kernel/conntrack-source';
import type { ListenOverflowObservation, SourceStats } from '../../observe/types';
import type { ServiceIndex } from '../../services/index';
import type { NodeInterval } from '../../services/interval';
import { buildInfoMetric } from './build-info';
import type { CapDeps } from './capped-counter';
import { conntrackMetrics } from './conntrack';
import { dropsMetric } from './drops';
import { healthMetrics } from './health';
import { kubeProxyMetrics } from './kubeproxy';
import { retransmitsMetric } from './retransmits';
import { sourceMetrics } from './sources';

export interface DaemonMetricDeps extends CapDeps {
  index: ServiceIndex;
  stats: () => SourceStats[];
  conntrack: () => ConntrackReading | undefined;
  unreplied: () => readonly ConntrackGroup[];
  ruleProblems: () => ReadonlyMap<string, number>;
  probeTotals: () => ProbeTotals | undefined;
}

export function daemonMetrics(registry: Registry, deps: DaemonMetricDeps) {
  const drops = dropsMetric(registry, deps);
  const retransmits = retransmitsMetric(registry, deps);
  const conntrack = conntrackMetrics(registry, { ...deps, current: deps.conntrack, lastUnreplied: deps.unreplied });
  const rules = kubeProxyMetrics(registry, { ...deps, problems: deps.ruleProblems });
  const health = healthMetrics(registry, deps);
  sourceMetrics(registry, deps);
  buildInfoMetric(registry, buildInfo());
  return {
    interval(iv: NodeInterval): void {
      drops.add(iv.drops);
      retransmits.add(iv.retransmits);
      if (iv.conntrack) conntrack.add(iv.conntrack);
      rules.add(iv.rules);
    },
    failures: (list: JudgedFailure[]) => health.addFailures(list),
    overflows: (list: ListenOverflowObservation[]) => health.addOverflows(list),
  };
}
