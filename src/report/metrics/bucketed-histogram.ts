// A Prometheus histogram fed with counts already bucketed (by the kernel): prom-client's Histogram takes one
// observation at a time, which would cost the daemon CPU in proportion to what it counts.
import type { Registry } from 'prom-client';
import type { Labels } from '../label-cap';

interface Series<N extends string> {
  labels: Labels<N>;
  /** per bound, not cumulative; one more for +Inf */
  counts: number[];
  sum: number;
}

export interface BucketedHistogramOptions<N extends string> {
  name: string;
  help: string;
  labelNames: readonly N[];
  /** the buckets' upper bounds (le), increasing */
  bounds: readonly number[];
}

/** The shape prom-client's Registry reads from any metric it holds (as from its own classes). */
export class BucketedHistogram<N extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly series = new Map<string, Series<N>>();

  constructor(registry: Registry, private readonly opts: BucketedHistogramOptions<N>) {
    this.name = opts.name;
    this.help = opts.help;
    if (opts.bounds.some((b, i) => i > 0 && b <= opts.bounds[i - 1]!)) throw new Error(`${opts.name}: bounds must increase`);
    registry.registerMetric(this as never);
  }

  /** Adds `counts[i]` observations to bucket i (counts.length = bounds + 1, the last for +Inf) and `sum` to the sum. */
  add(labels: Labels<N>, counts: readonly number[], sum: number): void {
    if (counts.length !== this.opts.bounds.length + 1) throw new Error(`${this.name}: ${counts.length} counts for ${this.opts.bounds.length} bounds and +Inf`);
    const key = this.opts.labelNames.map((n) => labels[n]).join('\0');
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: counts.map(() => 0), sum: 0 }));
    for (let i = 0; i < counts.length; i++) s.counts[i]! += counts[i]!;
    s.sum += sum;
  }

  reset(): void {
    this.series.clear();
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.series.values()) {
      let total = 0;
      s.counts.forEach((n, i) => {
        total += n;
        const le = i < this.opts.bounds.length ? this.opts.bounds[i]! : '+Inf';
        values.push({ labels: { ...s.labels, le }, value: total, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: total, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
