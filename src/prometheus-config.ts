// Flags of the commands that read Prometheus (`graph`, `rca`), their defaults and their validation: loud at start,
// a bad value throws a ConfigError naming the flag.
import type { Options } from 'yargs';
import { ConfigError, num, type Argv } from './config';

const prometheusOptions = {
  prometheus: { type: 'string', default: '', describe: "Prometheus's base URL (http://prometheus.monitoring:9090): the one that scrapes flapwatch on every node" },
  timeout: { type: 'number', default: 30, describe: 'Seconds each query to Prometheus may take' },
} as const satisfies Record<string, Options>;

export const graphOptions = {
  ...prometheusOptions,
  namespace: { type: 'string', default: '', describe: "Only the edges from or to this namespace; '' = every namespace" },
  since: { type: 'string', default: '15m', describe: 'The window, ending now: a Prometheus duration (30s, 15m, 1h30m)' },
  format: { type: 'string', choices: ['table', 'dot', 'json'], default: 'table', describe: 'A table worst edges first, Graphviz dot, or JSON' },
} as const satisfies Record<string, Options>;

export const rcaOptions = {
  ...prometheusOptions,
  at: { type: 'string', default: '', describe: "When the window ends: RFC 3339 (2026-12-04T12:05:00Z) or Unix seconds; '' = now" },
  window: { type: 'string', default: '5m', describe: 'How far back from --at failures count as one cascade: a Prometheus duration' },
  json: { type: 'boolean', default: false, describe: 'Print JSON instead of text' },
} as const satisfies Record<string, Options>;

export interface PrometheusConfig {
  prometheus: string;
  timeoutMs: number;
}

export interface GraphConfig extends PrometheusConfig {
  namespace: string;
  /** as given, for PromQL */
  since: string;
  format: 'table' | 'dot' | 'json';
}

export interface RcaConfig extends PrometheusConfig {
  /** ms since the epoch; undefined = now, when the command runs */
  atMs: number | undefined;
  window: string;
  windowMs: number;
  json: boolean;
}

// largest first, the order Prometheus wants them in
const UNITS: Record<string, number> = { y: 31_536_000_000, w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const ORDER = Object.keys(UNITS);
const MAX_WINDOW_MS = 31 * UNITS.d!;

/** A Prometheus duration (`90s`, `15m`, `1h30m`) in ms; a ConfigError naming `flag` otherwise. */
export function parseDuration(flag: string, value: string): number {
  const parts = [...value.matchAll(/(\d+)(ms|[smhdwy])/gy)];
  const ms = parts.reduce((n, m) => n + Number(m[1]) * UNITS[m[2]!]!, 0);
  const ordered = parts.every((m, i) => i === 0 || ORDER.indexOf(m[2]!) > ORDER.indexOf(parts[i - 1]![2]!));
  if (!value || parts.map((m) => m[0]).join('') !== value || !ordered || ms <= 0 || ms > MAX_WINDOW_MS) {
    throw new ConfigError(`--${flag} takes a Prometheus duration from 1s to 31d (30s, 15m, 1h30m), got ${JSON.stringify(value)}`);
  }
  if (ms % 1000) throw new ConfigError(`--${flag} takes whole seconds, got ${value}`);
  return ms;
}

/** RFC 3339 or Unix seconds → ms since the epoch. */
export function parseTime(flag: string, value: string): number {
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new ConfigError(`--${flag} takes RFC 3339 (2026-12-04T12:05:00Z) or Unix seconds, got ${JSON.stringify(value)}`);
  return ms;
}

function prometheusConfig(argv: Argv): PrometheusConfig {
  const url = String(argv.prometheus ?? '');
  if (!url) throw new ConfigError('--prometheus is required: the base URL of the Prometheus that scrapes flapwatch (e.g. http://prometheus.monitoring:9090)');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new ConfigError(`--prometheus must be an http(s) URL, got ${url}`);
  return { prometheus: url, timeoutMs: num(argv, 'timeout', (n) => n > 0 && n <= 600, 'seconds above 0 and at most 600') * 1000 };
}

export function graphConfig(argv: Argv): GraphConfig {
  const namespace = String(argv.namespace ?? '');
  if (namespace && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new ConfigError(`--namespace takes a Kubernetes namespace name, got ${namespace}`);
  const since = String(argv.since ?? '');
  parseDuration('since', since);
  return { ...prometheusConfig(argv), namespace, since, format: argv.format as GraphConfig['format'] };
}

export function rcaConfig(argv: Argv): RcaConfig {
  const at = String(argv.at ?? '');
  const window = String(argv.window ?? '');
  return { ...prometheusConfig(argv), atMs: at ? parseTime('at', at) : undefined, window, windowMs: parseDuration('window', window), json: Boolean(argv.json) };
}
