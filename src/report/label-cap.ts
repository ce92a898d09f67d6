// A bound on the label sets of one metric, so series never grow without limit: the first `cap` distinct sets
// pass as they are; later new sets fold into overflow values (service="other", location="other").

export type Labels<N extends string> = Record<N, string>;

export interface LabelCapOptions<N extends string> {
  labelNames: readonly N[];
  cap: number;
  /** the values that replace a new set's unbounded labels once the cap is reached */
  overflow: Partial<Labels<N>>;
  /** called once, the first time a set is folded */
  onCapReached?: () => void;
}

export class LabelCap<N extends string> {
  private readonly seen = new Set<string>();
  private folded = false;

  constructor(private readonly opts: LabelCapOptions<N>) {
    if (!Number.isInteger(opts.cap) || opts.cap < 1) throw new Error(`label cap must be a positive integer, got ${opts.cap}`);
  }

  admit(labels: Labels<N>): Labels<N> {
    const key = this.opts.labelNames.map((n) => labels[n]).join('\0');
    if (this.seen.has(key)) return labels;
    if (this.seen.size < this.opts.cap) {
      this.seen.add(key);
      return labels;
    }
    if (!this.folded) {
      this.folded = true;
      this.opts.onCapReached?.();
    }
    return { ...labels, ...this.opts.overflow };
  }
}
