import type { Registry } from 'prom-client';
import type { RetransmitObservation } from '../../observe/types';
import { cappedCounter, type CapDeps } from './capped-counter';

/** flapwatch_tcp_retransmits_total: loss beyond this node shows here. namespace/service empty until Services are indexed. */
export function retransmitsMetric(registry: Registry, deps: CapDeps) {
  const counter = cappedCounter(registry, {
    name: 'flapwatch_tcp_retransmits_total',
    help: 'TCP segments (SYN and SYN-ACK included) the kernel retransmitted',
    labelNames: ['namespace', 'service', 'direction'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  return {
    add(items: RetransmitObservation[]): void {
      for (const r of items) counter.inc({ namespace: '', service: '', direction: 'node' }, r.packets);
    },
  };
}
