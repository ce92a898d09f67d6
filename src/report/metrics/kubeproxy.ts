import { Counter, Gauge, type Registry } from 'prom-client';
import type { RuleRise } from '../../kubeproxy/rises';
import { cappedCounter, type CapDeps } from './capped-counter';
import { serviceLabels } from './service-labels';

export interface KubeProxyMetricDeps extends CapDeps {
  /** dump problems since start by kind, at scrape time */
  problems: () => ReadonlyMap<string, number>;
  /** tables and maps the last read found missing, by kind, at scrape time */
  missing: () => ReadonlyMap<string, number>;
}

/**
 * flapwatch_kubeproxy_rule_packets_total{namespace,service,rule}: increases of kube-proxy's drop and reject
 * rule counters, resets accounted (kubeproxy/rises.ts); node-wide rules have no Service.
 * flapwatch_kubeproxy_rule_problems_total{problem}: what the readers could not parse and skipped.
 * flapwatch_kubeproxy_missing_pieces{kind}: tables and maps the last read looked for and this node lacks.
 */
export function kubeProxyMetrics(registry: Registry, deps: KubeProxyMetricDeps) {
  const packets = cappedCounter(registry, {
    name: 'flapwatch_kubeproxy_rule_packets_total',
    help: "Packets that hit kube-proxy's drop and reject rules (reject_no_endpoints, drop_invalid, firewall_drop, …), by Service",
    labelNames: ['namespace', 'service', 'rule'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  new Counter({
    name: 'flapwatch_kubeproxy_rule_problems_total',
    help: "Rules or dump lines flapwatch could not read and skipped, by kind of problem (the log names the first of each)",
    labelNames: ['problem'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [problem, n] of deps.problems()) this.inc({ problem }, n);
    },
  });
  new Gauge({
    name: 'flapwatch_kubeproxy_missing_pieces',
    help: "kube-proxy tables and maps the last read looked for and this node does not have (another version's or IP family's layout): skipped, the rest read",
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of deps.missing()) this.set({ kind }, n);
    },
  });
  return {
    add(rises: RuleRise[]): void {
      for (const r of rises) {
        packets.inc({ ...serviceLabels(r.service), rule: r.kind }, r.packets);
      }
    },
  };
}
