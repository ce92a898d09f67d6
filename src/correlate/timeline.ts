// The evidence timeline: a ring of time buckets, one per node interval, each holding that interval's evidence
// summed by item and the active probe results that fell in it. Memory is bounded twice: by the number of
// buckets (the history) and by the items a bucket may hold (the rest is summed into one item and counted).
import { itemKey, type EvidenceItem, type ProbeResult } from './evidence';

export interface Bucket {
  start: number;
  end: number;
  items: Map<string, EvidenceItem>;
  probes: ProbeResult[];
}

export interface TimelineOptions {
  /** how far back evidence is kept */
  historyMs: number;
  /** most distinct items per bucket; past it items lose their addresses and are summed */
  maxItems: number;
  /** most probe results per bucket */
  maxProbes: number;
}

export class Timeline {
  private readonly buckets: Bucket[] = [];
  /** what arrived for a time no bucket covers yet: it goes into the bucket that will */
  private pending: { at: number; item?: EvidenceItem; probe?: ProbeResult }[] = [];
  /** items and probe results that lost detail or were not kept, since start */
  folded = 0;

  constructor(private readonly opts: TimelineOptions) {}

  /** Appends one interval's bucket; drops the ones older than the history. */
  add(start: number, end: number, items: Iterable<EvidenceItem>): Bucket {
    const bucket: Bucket = { start, end, items: new Map(), probes: [] };
    for (const item of items) this.put(bucket, item);
    this.buckets.push(bucket);
    const later = this.pending.filter((p) => p.at > end);
    for (const p of this.pending) if (p.at <= end) this.place(p);
    this.pending = later;
    this.expire(end);
    return bucket;
  }

  /** Adds to the bucket that covers `at` (or will: the interval may not have ended yet). */
  addItem(at: number, item: EvidenceItem): void {
    this.defer({ at, item });
  }

  addProbe(probe: ProbeResult): void {
    this.defer({ at: probe.at, probe });
  }

  private defer(p: { at: number; item?: EvidenceItem; probe?: ProbeResult }): void {
    if (p.at <= this.coveredUntil) this.place(p);
    else if (this.pending.length < this.opts.maxItems) this.pending.push(p);
    else this.folded++;
  }

  private place({ at, item, probe }: { at: number; item?: EvidenceItem; probe?: ProbeResult }): void {
    const b = this.buckets.find((x) => at > x.start && at <= x.end) ?? (at <= (this.buckets[0]?.start ?? -Infinity) ? undefined : this.buckets.at(-1));
    if (!b) this.folded++; // older than the history
    else if (item) this.put(b, item);
    else if (probe && b.probes.length < this.opts.maxProbes) b.probes.push(probe);
    else this.folded++;
  }

  /** End of the newest bucket: evidence up to here is complete. */
  get coveredUntil(): number {
    return this.buckets.at(-1)?.end ?? -Infinity;
  }

  /** Items that arrived for a time in (from, to] that no bucket covers yet (an overflow scan after the last interval). */
  waiting(from: number, to: number): EvidenceItem[] {
    return this.pending.flatMap((p) => (p.item && p.at > from && p.at <= to ? [p.item] : []));
  }

  /** Buckets overlapping [from, to]. */
  between(from: number, to: number): Bucket[] {
    return this.buckets.filter((b) => b.end > from && b.start < to);
  }

  private put(b: Bucket, item: EvidenceItem): void {
    let key = itemKey(item);
    if (!b.items.has(key) && b.items.size >= this.opts.maxItems) {
      this.folded++;
      item = { ...item, saddr: '', daddr: '', dst: '', detail: 'others (the bucket was full)', addrs: [] };
      key = itemKey(item);
    }
    const seen = b.items.get(key);
    if (seen) seen.count += item.count;
    else b.items.set(key, { ...item });
  }

  private expire(now: number): void {
    const cut = now - this.opts.historyMs;
    let n = 0;
    while (n < this.buckets.length && this.buckets[n]!.end < cut) n++;
    if (n) this.buckets.splice(0, n);
  }
}
