// A small client of Prometheus's HTTP API: instant and range queries (/api/v1/query, /api/v1/query_range), which
// is all `flapwatch graph` and `flapwatch rca` read. Every call is bounded by a timeout, and every failure is a
// PrometheusError that says which it was: unreachable, too slow, a refused query, or something that is not
// Prometheus's API answering.
import { describe } from '../observe/errors';

export class PrometheusError extends Error {
  override name = 'PrometheusError';
}

/** One series of an instant query: its labels and its value (NaN and ±Inf as Prometheus writes them). */
export interface InstantSample {
  labels: Record<string, string>;
  value: number;
}

/** One series of a range query: its points as [ms since the epoch, value]. */
export interface RangeSeries {
  labels: Record<string, string>;
  points: [number, number][];
}

export interface PrometheusOptions {
  /** Prometheus's base URL (http://host:9090, or with a path prefix behind a proxy); user:password@ becomes Basic auth */
  url: string;
  /** one call, answer included */
  timeoutMs: number;
}

interface ApiAnswer {
  status?: unknown;
  data?: { resultType?: unknown; result?: unknown };
  errorType?: unknown;
  error?: unknown;
}

type WireSample = { metric?: Record<string, string>; value?: [number, string]; values?: [number, string][] };

const seconds = (ms: number) => (ms / 1000).toFixed(3);

export class PrometheusClient {
  readonly url: string;
  private readonly headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };

  constructor(private readonly o: PrometheusOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new PrometheusError(`not a URL: ${o.url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PrometheusError(`Prometheus's URL must be http(s)://, got ${o.url}`);
    if (u.username) {
      // fetch() refuses a URL with credentials: they go in the header instead
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    this.url = u.toString().replace(/\/+$/, '');
  }

  /** The value of `expr` at `atMs` (default: now). */
  async query(expr: string, atMs?: number): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: expr };
    if (atMs !== undefined) params.time = seconds(atMs);
    const data = await this.call('query', params);
    if (data.resultType === 'scalar') return [{ labels: {}, value: number((data.result as [number, string])[1]) }];
    if (data.resultType !== 'vector') throw new PrometheusError(`${expr}: expected an instant vector, Prometheus answered a ${String(data.resultType)}`);
    return (data.result as WireSample[]).map((s) => ({ labels: s.metric ?? {}, value: number(s.value?.[1]) }));
  }

  /** `expr` from `startMs` to `endMs` every `stepMs`. */
  async queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<RangeSeries[]> {
    const data = await this.call('query_range', { query: expr, start: seconds(startMs), end: seconds(endMs), step: seconds(stepMs) });
    if (data.resultType !== 'matrix') throw new PrometheusError(`${expr}: expected a range vector, Prometheus answered a ${String(data.resultType)}`);
    return (data.result as WireSample[]).map((s) => ({ labels: s.metric ?? {}, points: (s.values ?? []).map(([t, v]) => [t * 1000, number(v)]) }));
  }

  private async call(endpoint: string, params: Record<string, string>): Promise<{ resultType?: unknown; result?: unknown }> {
    const url = `${this.url}/api/v1/${endpoint}`;
    let res: Response;
    let text: string;
    try {
      // POST: long queries do not fit a URL; Prometheus takes both
      res = await fetch(url, { method: 'POST', headers: this.headers, body: new URLSearchParams(params), signal: AbortSignal.timeout(this.o.timeoutMs) });
      text = await res.text();
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new PrometheusError(`Prometheus at ${this.url} did not answer within ${this.o.timeoutMs / 1000} s`);
      const cause = (err as { cause?: unknown }).cause;
      throw new PrometheusError(`Prometheus at ${this.url} is unreachable: ${describe(cause ?? err)}`);
    }
    let body: ApiAnswer;
    try {
      body = JSON.parse(text) as ApiAnswer;
    } catch {
      throw new PrometheusError(`${url} answered HTTP ${res.status} ${res.statusText} with no JSON: is ${this.url} Prometheus's base URL?`);
    }
    if (body.status === 'error') {
      throw new PrometheusError(`Prometheus refused the query (${String(body.errorType)}: ${String(body.error)}): ${params.query}`);
    }
    if (body.status !== 'success' || typeof body.data !== 'object' || body.data === null) {
      throw new PrometheusError(`${url} answered HTTP ${res.status} with JSON that is not Prometheus's API: is ${this.url} Prometheus's base URL?`);
    }
    return body.data;
  }
}

/** A sample value as Prometheus writes it: a decimal, NaN, +Inf or -Inf. */
function number(v: unknown): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return typeof v === 'string' ? Number(v) : NaN;
}
