import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConntrackReading } from '../../kernel/conntrack-source';
import type { NodeInterval } from '../../node/interval';
import { cappedCounter, type CapDeps } from './capped-counter';
import { serviceLabels } from './service-labels';

export interface ConntrackMetricDeps extends CapDeps {
  /** the last reading, at scrape time */
  current: () => ConntrackReading | undefined;
}

/**
 * flapwatch_conntrack_stat_total{stat} (the kernel's totals, as `conntrack -S` sums them), _entries, _max,
 * _unreplied_flows{namespace,service} (flows still waiting for their first reply, at the last dump), and
 * _unanswered_flows_total{namespace,service} (flows that died without ever seeing a reply: lost handshakes).
 */
export function conntrackMetrics(registry: Registry, deps: ConntrackMetricDeps) {
  /** the unreplied flows of the last dump, summed by Service */
  let unreplied = new Map<string, { labels: { namespace: string; service: string }; n: number }>();
  new Counter({
    name: 'flapwatch_conntrack_stat_total',
    help: "conntrack's per-CPU statistics summed over CPUs (insert_failed, drop, early_drop, invalid, clash_resolve, …)",
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [stat, v] of Object.entries(deps.current()?.counters ?? {})) this.inc({ stat }, v);
    },
  });
  const gauge = (name: string, help: string, value: (r: ConntrackReading) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const r = deps.current();
        if (r) this.set(value(r));
        else this.reset();
      },
    });
  gauge('flapwatch_conntrack_entries', 'Entries in the conntrack table', (r) => r.entries);
  gauge('flapwatch_conntrack_max', 'The conntrack table limit (nf_conntrack_max)', (r) => r.max);
  new Gauge({
    name: 'flapwatch_conntrack_unreplied_flows',
    help: 'Flows still waiting for their first reply, by the Service of their original destination ("" when none)',
    labelNames: ['namespace', 'service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, n } of unreplied.values()) this.set(labels, n);
    },
  });
  const unanswered = cappedCounter(registry, {
    name: 'flapwatch_conntrack_unanswered_flows_total',
    help: 'Flows whose conntrack timeout ran out without ever seeing a reply (lost handshakes, unanswered UDP), by the Service of their original destination',
    labelNames: ['namespace', 'service'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  return {
    add(iv: NodeInterval): void {
      for (const g of iv.diedUnreplied) unanswered.inc(serviceLabels(g.service), g.flows);
      if (!iv.unreplied) return;
      const sums = new Map<string, { labels: { namespace: string; service: string }; n: number }>();
      for (const g of iv.unreplied) {
        const labels = serviceLabels(g.service);
        const key = `${labels.namespace}/${labels.service}`;
        const s = sums.get(key) ?? sums.set(key, { labels, n: 0 }).get(key)!;
        s.n += g.unreplied;
      }
      unreplied = sums;
    },
  };
}
