import { Gauge, type Registry } from 'prom-client';
import type { MapSizes } from '../../kernel/memlock';

/**
 * flapwatch_bpf_map_capacity{map}: the flows the tracer's maps were loaded to hold (drops, retransmits): smaller
 * than asked where the kernel charges maps to a locked-memory limit that could not hold them (kernel/memlock.ts).
 */
export function tracerMetrics(registry: Registry, deps: { mapSizes: () => MapSizes | undefined }): void {
  new Gauge({
    name: 'flapwatch_bpf_map_capacity',
    help: "Flows the tracer's in-kernel maps hold (below --max-flows where the kernel's locked-memory limit could not hold more)",
    labelNames: ['map'],
    registers: [registry],
    collect() {
      this.reset();
      const s = deps.mapSizes();
      if (!s) return;
      this.set({ map: 'drops' }, s.maxFlows);
      this.set({ map: 'retransmits' }, s.maxRetransmitFlows);
    },
  });
}
