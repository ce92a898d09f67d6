// The active prober's monotonic counts per (namespace, service, path), read at scrape time by src/report.
import type { ProbePath } from '../observe/health';
import type { ProbeTarget } from './active-targets';

export interface ProbeCountRow {
  namespace: string;
  service: string;
  path: ProbePath;
  result: 'ok' | 'failed';
  count: number;
}

export interface RetryCountRow {
  namespace: string;
  service: string;
  path: ProbePath;
  /** recovered: the immediate retry succeeded (a retry would have hidden the failure); failed: it did not */
  retry: 'recovered' | 'failed';
  count: number;
}

export interface SkipCountRow {
  namespace: string;
  service: string;
  path: ProbePath;
  /** probes not sent because the target's previous one was still queued or in flight */
  count: number;
}

export interface ProbeTotals {
  probes: ProbeCountRow[];
  retries: RetryCountRow[];
  skipped: SkipCountRow[];
}

interface Counts { ok: number; failed: number; recovered: number; retryFailed: number; skipped: number }

export class ActiveTotals {
  private readonly rows = new Map<string, { namespace: string; service: string; path: ProbePath; c: Counts }>();
  private skippedAll = 0;

  private counts(t: ProbeTarget): Counts {
    const key = `${t.service.namespace}\0${t.service.name}\0${t.path}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { namespace: t.service.namespace, service: t.service.name, path: t.path, c: { ok: 0, failed: 0, recovered: 0, retryFailed: 0, skipped: 0 } };
      this.rows.set(key, row);
    }
    return row.c;
  }

  result(t: ProbeTarget, ok: boolean, retryOk: boolean | undefined): void {
    const c = this.counts(t);
    if (ok) c.ok++;
    else c.failed++;
    if (retryOk === true) c.recovered++;
    else if (retryOk === false) c.retryFailed++;
  }

  skip(t: ProbeTarget): void {
    this.counts(t).skipped++;
    this.skippedAll++;
  }

  get skipped(): number {
    return this.skippedAll;
  }

  /** Plain rows; zero counts left out. */
  rowsNow(): ProbeTotals {
    const out: ProbeTotals = { probes: [], retries: [], skipped: [] };
    for (const { c, ...labels } of this.rows.values()) {
      if (c.ok) out.probes.push({ ...labels, result: 'ok', count: c.ok });
      if (c.failed) out.probes.push({ ...labels, result: 'failed', count: c.failed });
      if (c.recovered) out.retries.push({ ...labels, retry: 'recovered', count: c.recovered });
      if (c.retryFailed) out.retries.push({ ...labels, retry: 'failed', count: c.retryFailed });
      if (c.skipped) out.skipped.push({ ...labels, count: c.skipped });
    }
    return out;
  }
}
