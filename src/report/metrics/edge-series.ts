// The service graph's series, kept compact: per edge, its label text escaped once when the edge is first seen and
// its counters in one shared Float64Array; a scrape writes them straight to exposition text. An edge is up to 16
// series and a node keeps up to --label-cap edges: prom-client keeps an object per series and builds another per
// series at every scrape (bench/RESULTS.md, bench:edges).
import { ByteWriter } from './byte-writer';
import { familyHeader, labelText, escapeLabelValue, sampleValue } from './exposition';
import type { TextFamilies } from './text-registry';

export const RESULTS = ['attempted', 'established', 'failed'] as const;
export type Result = (typeof RESULTS)[number];

export interface EdgeFamily {
  name: string;
  help: string;
}

export interface EdgeSeriesOptions {
  labelNames: readonly string[];
  drops: EdgeFamily;
  retransmits: EdgeFamily;
  connections: EdgeFamily;
  /** a histogram fed with counts already bucketed (by the kernel) */
  connect: EdgeFamily & { bounds: readonly number[] };
}

// An edge's slots in `values`: connections by result, retransmits, then the histogram's buckets (per bound, not
// cumulative, +Inf last) and its sum. Bits of `present`: a series exists once counted, as with prom-client.
const RETRANSMITS = RESULTS.length;
const BUCKETS = RETRANSMITS + 1;
const RETRANSMITS_BIT = 1 << RETRANSMITS;
const CONNECT_BIT = 1 << BUCKETS;

export class EdgeSeries implements TextFamilies {
  readonly names: readonly string[];
  private readonly index = new Map<string, number>();
  /** per edge, `a="x",b="y"` */
  private readonly labels: string[] = [];
  private readonly present: number[] = [];
  /** per edge, packets by mechanism: only edges that lost some have one */
  private readonly drops: (Map<string, number> | undefined)[] = [];
  private readonly slots: number;
  private readonly sum: number;
  private values: Float64Array;
  /** the last exposition's bytes: the next one's first guess */
  private lastSize = 0;

  constructor(private readonly o: EdgeSeriesOptions) {
    if (o.connect.bounds.some((b, i) => i > 0 && b <= o.connect.bounds[i - 1]!)) throw new Error(`${o.connect.name}: bounds must increase`);
    this.names = [o.drops.name, o.retransmits.name, o.connections.name, o.connect.name];
    this.sum = BUCKETS + o.connect.bounds.length + 1;
    this.slots = this.sum + 1;
    this.values = new Float64Array(this.slots * 64);
  }

  /** The edge of these label values (in labelNames' order), created the first time. */
  edge(values: readonly string[]): number {
    const key = values.join('\0');
    let e = this.index.get(key);
    if (e !== undefined) return e;
    e = this.labels.length;
    this.index.set(key, e);
    this.labels.push(labelText(this.o.labelNames, values));
    this.present.push(0);
    this.drops.push(undefined);
    if ((e + 1) * this.slots > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    return e;
  }

  addDrops(e: number, mechanism: string, packets: number): void {
    const m = (this.drops[e] ??= new Map());
    m.set(mechanism, (m.get(mechanism) ?? 0) + packets);
  }

  addRetransmits(e: number, packets: number): void {
    this.count(e, RETRANSMITS, RETRANSMITS_BIT, packets);
  }

  addConnections(e: number, result: Result, n: number): void {
    const r = RESULTS.indexOf(result);
    this.count(e, r, 1 << r, n);
  }

  /** Adds `counts[i]` handshakes to bucket i (counts.length = bounds + 1, the last for +Inf) and `sum` seconds. */
  addConnect(e: number, counts: readonly number[], sum: number): void {
    const { name, bounds } = this.o.connect;
    if (counts.length !== bounds.length + 1) throw new Error(`${name}: ${counts.length} counts for ${bounds.length} bounds and +Inf`);
    const at = e * this.slots;
    for (let i = 0; i < counts.length; i++) this.values[at + BUCKETS + i] += counts[i]!;
    this.count(e, this.sum, CONNECT_BIT, sum);
  }

  exposition(): Buffer {
    const { drops, retransmits, connections, connect } = this.o;
    const out = new ByteWriter(this.lastSize);
    out.write(familyHeader(drops.name, drops.help, 'counter'));
    this.drops.forEach((m, e) => {
      for (const [mechanism, n] of m ?? []) out.write(`${drops.name}{${this.labels[e]},mechanism="${escapeLabelValue(mechanism)}"} ${sampleValue(n)}\n`);
    });
    out.write(`\n${familyHeader(retransmits.name, retransmits.help, 'counter')}`);
    this.each(RETRANSMITS_BIT, (labels, at) => out.write(`${retransmits.name}{${labels}} ${sampleValue(this.values[at + RETRANSMITS]!)}\n`));
    out.write(`\n${familyHeader(connections.name, connections.help, 'counter')}`);
    this.each((1 << RESULTS.length) - 1, (labels, at, present) => {
      RESULTS.forEach((result, r) => {
        if (present & (1 << r)) out.write(`${connections.name}{${labels},result="${result}"} ${sampleValue(this.values[at + r]!)}\n`);
      });
    });
    out.write(`\n${familyHeader(connect.name, connect.help, 'histogram')}`);
    const les = [...connect.bounds.map(sampleValue), '+Inf'];
    this.each(CONNECT_BIT, (labels, at) => {
      let total = 0;
      les.forEach((le, i) => {
        total += this.values[at + BUCKETS + i]!;
        out.write(`${connect.name}_bucket{${labels},le="${le}"} ${sampleValue(total)}\n`);
      });
      out.write(`${connect.name}_sum{${labels}} ${sampleValue(this.values[at + this.sum]!)}\n${connect.name}_count{${labels}} ${sampleValue(total)}\n`);
    });
    const bytes = out.bytes();
    this.lastSize = bytes.length;
    return bytes;
  }

  private count(e: number, slot: number, bit: number, n: number): void {
    this.values[e * this.slots + slot] += n;
    this.present[e]! |= bit;
  }

  /** Calls `fn` for each edge with a series under `bits`: its label text, the offset of its slots, its bits. */
  private each(bits: number, fn: (labels: string, at: number, present: number) => void): void {
    this.present.forEach((p, e) => {
      if (p & bits) fn(this.labels[e]!, e * this.slots, p);
    });
  }
}
