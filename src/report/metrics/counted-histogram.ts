import type { Metric, Registry } from 'prom-client';
import { LabelCap, type Labels } from '../label-cap';
import type { CapDeps } from './capped-counter';

export interface CountedHistogramOptions<N extends string> extends CapDeps {
  name: string;
  help: string;
  labelNames: readonly N[];
  overflow: Partial<Labels<N>>;
  /** upper bounds, ascending; counts come with one bucket more (above the last) */
  bounds: readonly number[];
}

interface Series<N extends string> {
  labels: Labels<N>;
  /** per bucket, not cumulative */
  buckets: number[];
  sum: number;
}

/**
 * A histogram whose observations arrive counted by bucket already (the kernel counted them): prom-client's Histogram
 * takes one observation per call, which would put a call per DNS query in user space. Its label sets are bounded
 * by a LabelCap. Registered as prom-client's registry reads a metric: name, get(), reset().
 */
export function countedHistogram<N extends string>(registry: Registry, o: CountedHistogramOptions<N>) {
  const cap = new LabelCap({ labelNames: o.labelNames, cap: o.labelCap, overflow: o.overflow, onCapReached: () => o.onCapReached?.(o.name) });
  const series = new Map<string, Series<N>>();
  const le = [...o.bounds.map(String), '+Inf'];
  const metric = {
    name: o.name,
    help: o.help,
    type: 'histogram',
    labelNames: o.labelNames,
    reset: () => series.clear(),
    get: async () => ({
      name: o.name,
      help: o.help,
      type: 'histogram',
      aggregator: 'sum',
      values: [...series.values()].flatMap((s) => {
        let cumulative = 0;
        const count = s.buckets.reduce((a, b) => a + b, 0);
        return [
          ...s.buckets.map((n, i) => ({ labels: { ...s.labels, le: le[i]! }, value: (cumulative += n), metricName: `${o.name}_bucket` })),
          { labels: s.labels, value: s.sum, metricName: `${o.name}_sum` },
          { labels: s.labels, value: count, metricName: `${o.name}_count` },
        ];
      }),
    }),
  };
  // prom-client's types name only its own four classes; its registry needs no more than the above
  registry.registerMetric(metric as unknown as Metric);
  return {
    add(labels: Labels<N>, buckets: readonly number[], sum: number): void {
      if (buckets.length !== le.length) throw new RangeError(`${o.name}: ${buckets.length} buckets for ${le.length} bounds`);
      const admitted = cap.admit(labels);
      const key = o.labelNames.map((n) => admitted[n]).join('\0');
      const s = series.get(key) ?? series.set(key, { labels: admitted, buckets: buckets.map(() => 0), sum: 0 }).get(key)!;
      buckets.forEach((n, i) => (s.buckets[i] = s.buckets[i]! + n));
      s.sum += sum;
    },
  };
}
