import type { Registry } from 'prom-client';
import { functionOf } from '../../kernel/kallsyms';
import type { DropObservation } from '../../observe/types';
import { cappedCounter, type CapDeps } from './capped-counter';

/**
 * flapwatch_drops_total: packets lost, so benign frees (kernel/reasons.ts) are not counted. location is the
 * function without its offset, to bound cardinality. Until Services are indexed, namespace and service are
 * empty and direction is "node".
 */
export function dropsMetric(registry: Registry, deps: CapDeps) {
  const counter = cappedCounter(registry, {
    name: 'flapwatch_drops_total',
    help: 'Packets the kernel dropped, by drop reason and the kernel function that dropped them (benign frees excluded)',
    labelNames: ['reason', 'location', 'namespace', 'service', 'direction'] as const,
    overflow: { location: 'other', service: 'other' },
    ...deps,
  });
  return {
    add(items: DropObservation[]): void {
      for (const d of items) {
        if (!d.loss) continue;
        const labels = { reason: d.reasonName, location: functionOf(d.location), namespace: '', service: '', direction: 'node' };
        counter.inc(labels, d.packets);
      }
    },
  };
}
