import { Counter, Gauge, type Registry } from 'prom-client';
import type { SourceStats } from '../../observe/source';

export interface SourceDeps {
  /** every source's stats, read at scrape time */
  stats: () => SourceStats[];
}

/** flapwatch_source_up, flapwatch_source_errors_total, flapwatch_events_lost_total, flapwatch_events_rate_limited_total. */
export function sourceMetrics(registry: Registry, deps: SourceDeps): void {
  new Gauge({
    name: 'flapwatch_source_up',
    help: '1 while a source delivers observations, 0 while it is down (the start-up log says why)',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of deps.stats()) this.set({ source: s.source }, s.up ? 1 : 0);
    },
  });
  // The sources keep monotonic totals: each scrape republishes them.
  const totals = (name: string, help: string, value: (s: SourceStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['source'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of deps.stats()) this.inc({ source: s.source }, value(s));
      },
    });
  totals('flapwatch_source_errors_total', 'Errors a source met (failed start, failed reads)', (s) => s.errors);
  totals('flapwatch_events_lost_total', 'Events the kernel side could not hand over (full map or ring buffer, flows evicted before a drain)', (s) => s.eventsLost);
  totals('flapwatch_events_rate_limited_total', 'Events skipped on purpose by a rate limit (--samples-per-second)', (s) => s.rateLimited);
}
