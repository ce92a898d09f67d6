import { Counter, type Registry } from 'prom-client';
import type { JudgedFailure } from '../../correlate/correlator';
import type { ProbeTotals } from '../../health/active-totals';
import type { ListenOverflowObservation } from '../../observe/health';
import { parseObjectKey } from '../../observe/objects';
import type { AttributedThrottle } from '../../services/attribute';
import { cappedCounter, type CapDeps } from './capped-counter';
import { serviceLabels } from './service-labels';

export interface HealthMetricDeps extends CapDeps {
  /** the active prober's totals, at scrape time; none when it does not run */
  probeTotals: () => ProbeTotals | undefined;
}

/**
 * flapwatch_health_failures_total{namespace,service,source,verdict}: failed health checks, by who reported them
 * and what the correlator found on their path; flapwatch_health_probes_total{…,path,result} and
 * flapwatch_health_probe_retries_total{…,path,result} (the immediate retry after a failure: recovered or
 * failed) for active probes; flapwatch_listen_overflows_total{namespace,pod}.
 */
export function healthMetrics(registry: Registry, deps: HealthMetricDeps) {
  const failures = cappedCounter(registry, {
    name: 'flapwatch_health_failures_total',
    help: 'Failed health checks, by the Service they speak for, who reported them and the verdict on their path',
    labelNames: ['namespace', 'service', 'source', 'verdict'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  const totals = (name: string, help: string, rows: (t: ProbeTotals) => { namespace: string; service: string; path: string; result: string; count: number }[]) =>
    new Counter({
      name,
      help,
      labelNames: ['namespace', 'service', 'path', 'result'],
      registers: [registry],
      collect() {
        this.reset();
        const t = deps.probeTotals();
        for (const { count, ...labels } of t ? rows(t) : []) this.inc(labels, count);
      },
    });
  totals('flapwatch_health_probes_total', "Active health probes by path (cluster_ip: through kube-proxy; pod: straight to the pod; url: --probe) and result",
    (t) => t.probes.map((r) => ({ ...r, result: r.result === 'ok' ? 'success' : 'failure' })));
  totals('flapwatch_health_probe_retries_total', 'Immediate retries after a failed active probe: recovered (a retry would have hidden the failure) or failed',
    (t) => t.retries.map(({ retry, ...r }) => ({ ...r, result: retry })));
  const overflows = cappedCounter(registry, {
    name: 'flapwatch_listen_overflows_total',
    help: "SYNs a pod's full accept queue could not take (TcpExt ListenOverflows in its network namespace): loss without a drop event",
    labelNames: ['namespace', 'pod'] as const,
    overflow: { pod: 'other' },
    ...deps,
  });
  const throttled = cappedCounter(registry, {
    name: 'flapwatch_pod_cpu_throttled_seconds_total',
    help: "Time this node's pods were held back by their CPU quota (CFS throttling, summed over CPUs), by each Service the pod backs",
    labelNames: ['namespace', 'service'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  const dependencies = cappedCounter(registry, {
    name: 'flapwatch_failure_dependencies_total',
    help: 'Failed health checks that name a failing dependency (downstream evidence, or the payload), by the Service that failed and the dependency',
    labelNames: ['namespace', 'service', 'dependency_namespace', 'dependency', 'verdict'] as const,
    overflow: { service: 'other', dependency: 'other' },
    ...deps,
  });
  return {
    addThrottles(list: AttributedThrottle[]): void {
      for (const o of list) {
        const services = o.services.length ? o.services : [{ namespace: o.pod?.namespace ?? '', name: '' }];
        for (const s of services) throttled.inc(serviceLabels(s), o.throttledMs / 1000);
      }
    },
    addFailures(list: JudgedFailure[]): void {
      for (const { observation: o, incident } of list) {
        const service = serviceLabels(incident.service ?? o.service);
        failures.inc({ ...service, source: o.source, verdict: incident.verdict }, o.count ?? 1);
        for (const dep of incident.dependencies ?? []) {
          const d = parseObjectKey(dep);
          dependencies.inc({ ...service, dependency_namespace: d.namespace, dependency: d.name, verdict: incident.verdict }, o.count ?? 1);
        }
      }
    },
    addOverflows(list: ListenOverflowObservation[]): void {
      for (const o of list) if (o.listenOverflows > 0) overflows.inc({ namespace: o.pod?.namespace ?? '', pod: o.pod?.name ?? '' }, o.listenOverflows);
    },
  };
}
