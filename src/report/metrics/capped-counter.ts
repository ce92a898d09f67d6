import { Counter, type Registry } from 'prom-client';
import { LabelCap, type Labels } from '../label-cap';

/** What every capped metric factory takes. */
export interface CapDeps {
  labelCap: number;
  onCapReached?: (metric: string) => void;
}

export interface CappedCounterOptions<N extends string> extends CapDeps {
  name: string;
  help: string;
  labelNames: readonly N[];
  overflow: Partial<Labels<N>>;
}

/** A counter incremented from observations, its label sets bounded by a LabelCap. */
export function cappedCounter<N extends string>(registry: Registry, o: CappedCounterOptions<N>) {
  const counter = new Counter({ name: o.name, help: o.help, labelNames: o.labelNames, registers: [registry] });
  const cap = new LabelCap({
    labelNames: o.labelNames,
    cap: o.labelCap,
    overflow: o.overflow,
    onCapReached: () => o.onCapReached?.(o.name),
  });
  return {
    inc(labels: Labels<N>, value: number): void {
      counter.inc(cap.admit(labels), value);
    },
  };
}
