// A prom-client Registry that also serves families rendered straight to exposition text: prom-client builds an
// object per series at every scrape (and a Counter keeps one per label set), which for tens of thousands of
// series is most of what they cost. /metrics stays one answer: prom-client's families, then the text ones.
import { Registry } from 'prom-client';

/** Families that render themselves. */
export interface TextFamilies {
  /** every family name it writes, so that no other metric of the registry can take one */
  readonly names: readonly string[];
  /** each family whole (HELP, TYPE, then all its samples), every line ending in a newline, as UTF-8 */
  exposition(): Buffer;
}

/** Prometheus text format only (prom-client's OpenMetrics renames counters, which pre-rendered text cannot follow). */
export class TextRegistry extends Registry {
  private readonly texts: TextFamilies[] = [];
  private readonly textNames = new Set<string>();

  registerText(families: TextFamilies): void {
    for (const name of families.names) if (this.getSingleMetric(name) || this.textNames.has(name)) throw taken(name);
    for (const name of families.names) this.textNames.add(name);
    this.texts.push(families);
  }

  override registerMetric(metric: Parameters<Registry['registerMetric']>[0]): void {
    const { name } = metric as unknown as { name: string }; // prom-client's typings leave it out
    if (this.textNames.has(name)) throw taken(name);
    super.registerMetric(metric);
  }

  /** getMetricsAsJSON and getSingleMetric see prom-client's metrics only. */
  override async metrics(): Promise<string> {
    return (await this.exposition()).join('');
  }

  /** The whole exposition in pieces, for a response to send one after the other without joining them. */
  async exposition(): Promise<(string | Buffer)[]> {
    const out: (string | Buffer)[] = [await super.metrics()];
    for (const t of this.texts) out.push('\n', t.exposition());
    return out;
  }
}

const taken = (name: string) => new Error(`A metric with the name ${name} has already been registered.`);
