import type { Registry } from 'prom-client';
import type { AttributedDrop } from '../../services/attribute';
import { cappedCounter, type CapDeps } from './capped-counter';
import { serviceLabels } from './service-labels';

/**
 * flapwatch_drops_total: packets lost, so benign frees (kernel/reasons.ts) are not counted. location is the
 * function without its offset, to bound cardinality; mechanism is kube-proxy's way of losing it, or two
 * joined by "+" when the evidence could not tell them apart.
 */
export function dropsMetric(registry: Registry, deps: CapDeps) {
  const counter = cappedCounter(registry, {
    name: 'flapwatch_drops_total',
    help: 'Packets the kernel dropped, by drop reason, kernel function, Service, direction and mechanism (benign frees excluded)',
    labelNames: ['reason', 'location', 'namespace', 'service', 'direction', 'mechanism'] as const,
    overflow: { location: 'other', service: 'other' },
    ...deps,
  });
  return {
    add(items: AttributedDrop[]): void {
      for (const d of items) {
        if (!d.loss) continue;
        const labels = {
          reason: d.reasonName,
          location: d.location,
          ...serviceLabels(d.service),
          direction: d.direction,
          mechanism: d.mechanisms.join('+'),
        };
        counter.inc(labels, d.packets);
      }
    },
  };
}
