import { Gauge, type Registry } from 'prom-client';
import type { ServiceRef, Workload } from '../../observe/objects';

export interface WorkloadServices {
  workload: Workload;
  /** the Services its pods on this node are endpoints of */
  services: ServiceRef[];
}

/**
 * flapwatch_workload_services{namespace, kind, workload, service_namespace, service}: 1 for every workload with pods on this node and
 * every Service those pods back. With the edges (a workload calls a Service) it makes the Services' graph: a
 * Service calls another when one of its workloads does. Read at scrape time.
 */
export function workloadMetrics(registry: Registry, deps: { workloads: () => WorkloadServices[] }): void {
  new Gauge({
    name: 'flapwatch_workload_services',
    help: "1 for each workload with pods on this node and each Service they back: the service graph's Service of a client workload",
    labelNames: ['namespace', 'kind', 'workload', 'service_namespace', 'service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { workload, services } of deps.workloads()) {
        for (const s of services) this.set({ namespace: workload.namespace, kind: workload.kind, workload: workload.name, service_namespace: s.namespace, service: s.name }, 1);
      }
    },
  });
}
