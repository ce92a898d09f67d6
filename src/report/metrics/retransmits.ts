import type { Registry } from 'prom-client';
import type { AttributedRetransmit } from '../../services/attribute';
import { cappedCounter, type CapDeps } from './capped-counter';
import { serviceLabels } from './service-labels';

/** flapwatch_tcp_retransmits_total: loss beyond this node shows here. */
export function retransmitsMetric(registry: Registry, deps: CapDeps) {
  const counter = cappedCounter(registry, {
    name: 'flapwatch_tcp_retransmits_total',
    help: 'TCP segments (SYN and SYN-ACK included) the kernel retransmitted, by Service and direction',
    labelNames: ['namespace', 'service', 'direction'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  return {
    add(items: AttributedRetransmit[]): void {
      for (const r of items) counter.inc({ ...serviceLabels(r.service), direction: r.direction }, r.packets);
    },
  };
}
