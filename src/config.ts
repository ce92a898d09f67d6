// Flags, their defaults and their validation. Loud at start: a bad value throws a ConfigError naming the flag.
import type { Options } from 'yargs';
import { DEFAULT_BENIGN_REASONS, normalizeReasonName } from './kernel/reasons';
import { LOG_LEVELS, type LogLevel } from './log';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_PORT = 9807;

/** Flags every command that runs the tracer takes. */
export const tracerOptions = {
  interval: { type: 'number', default: 1, describe: 'Seconds between drains of the in-kernel aggregation' },
  'btf-path': {
    type: 'string',
    default: '',
    describe: "Kernel BTF file for CO-RE and drop reason names; '' = the running kernel's (/sys/kernel/btf)",
  },
  'max-flows': { type: 'number', default: 65536, describe: 'Capacity of the in-kernel drop aggregation (LRU: the oldest flows are evicted, and counted)' },
  'max-retransmit-flows': { type: 'number', default: 16384, describe: 'Capacity of the in-kernel retransmit aggregation (LRU)' },
  'benign-reasons': {
    type: 'string',
    default: DEFAULT_BENIGN_REASONS.join(','),
    describe: "Drop reasons that are not loss (comma list; replaces the default; '' counts every reason)",
  },
} as const satisfies Record<string, Options>;

const logLevel = (fallback: LogLevel) =>
  ({ type: 'string', choices: LOG_LEVELS, default: fallback, describe: 'Log level' }) as const satisfies Options;

/** Flags of the commands that read conntrack and kube-proxy's rules besides the tracer. */
export const nodeOptions = {
  'unreplied-interval': {
    type: 'number',
    default: 10,
    describe: 'Seconds between dumps of the conntrack flows still waiting for a reply (the kernel filters the dump); 0 turns them off',
  },
  'rules-full-interval': {
    type: 'number',
    default: 300,
    describe: "Seconds between full reads of kube-proxy's rules when nothing changed (a change brings one sooner)",
  },
} as const satisfies Record<string, Options>;

export const runOptions = {
  ...tracerOptions,
  ...nodeOptions,
  'samples-per-second': { type: 'number', default: 100, describe: 'Cap on per-packet drop samples sent to user space for logs; 0 turns samples off' },
  'ring-bytes': { type: 'number', default: 262144, describe: 'Size of the sample ring buffer: a power of two, at least 4096' },
  listen: { type: 'string', default: `0.0.0.0:${DEFAULT_PORT}`, describe: 'HTTP address for /metrics, /healthz and /readyz (host:port, [v6]:port)' },
  'label-cap': { type: 'number', default: 2000, describe: 'Label sets per metric before new ones fold into service="other"/location="other"' },
  'log-level': logLevel('info'),
} as const satisfies Record<string, Options>;

export const snapshotOptions = {
  ...tracerOptions,
  ...nodeOptions,
  duration: { type: 'number', default: 5, describe: 'Seconds to watch' },
  json: { type: 'boolean', default: false, describe: 'Print JSON instead of a table' },
  'log-level': logLevel('warn'),
} as const satisfies Record<string, Options>;

export interface SourcesConfig {
  intervalMs: number;
  btfPath: string;
  maxFlows: number;
  maxRetransmitFlows: number;
  benignReasons: string[];
  logLevel: LogLevel;
  /** 0 = off */
  unrepliedIntervalMs: number;
  rulesFullIntervalMs: number;
}

export interface RunConfig extends SourcesConfig {
  samplesPerSecond: number;
  ringBytes: number;
  listen: { host: string; port: number };
  labelCap: number;
}

export interface SnapshotConfig extends SourcesConfig {
  durationMs: number;
  json: boolean;
}

type Argv = Record<string, unknown>;

function num(argv: Argv, flag: string, ok: (n: number) => boolean, what: string): number {
  const n = argv[flag];
  if (typeof n !== 'number' || !Number.isFinite(n) || !ok(n)) throw new ConfigError(`--${flag} must be ${what}, got ${String(n)}`);
  return n;
}

const int = (min: number, max: number) => (n: number) => Number.isInteger(n) && n >= min && n <= max;
const seconds = (n: number) => n > 0 && n <= 86400;

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`--listen must be host:port or [v6addr]:port, got ${value}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function parseReasons(value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !/^[A-Za-z0-9_]+$/.test(n));
  if (bad.length) throw new ConfigError(`--benign-reasons takes reason names like QUEUE_PURGE, got ${bad.join(', ')}`);
  return names.map(normalizeReasonName);
}

function sourcesConfig(argv: Argv): SourcesConfig {
  return {
    intervalMs: num(argv, 'interval', seconds, 'seconds above 0 and at most 86400') * 1000,
    btfPath: String(argv['btf-path']),
    maxFlows: num(argv, 'max-flows', int(1, 1 << 24), 'an integer from 1 to 16777216'),
    maxRetransmitFlows: num(argv, 'max-retransmit-flows', int(1, 1 << 24), 'an integer from 1 to 16777216'),
    benignReasons: parseReasons(String(argv['benign-reasons'])),
    logLevel: argv['log-level'] as LogLevel,
    unrepliedIntervalMs: num(argv, 'unreplied-interval', (n) => n === 0 || seconds(n), '0 or seconds at most 86400') * 1000,
    rulesFullIntervalMs: num(argv, 'rules-full-interval', seconds, 'seconds above 0 and at most 86400') * 1000,
  };
}

export function runConfig(argv: Argv): RunConfig {
  return {
    ...sourcesConfig(argv),
    samplesPerSecond: num(argv, 'samples-per-second', int(0, 1_000_000), 'an integer from 0 to 1000000'),
    ringBytes: num(argv, 'ring-bytes', (n) => int(4096, 1 << 30)(n) && (n & (n - 1)) === 0, 'a power of two from 4096 to 1073741824'),
    listen: parseListen(String(argv.listen)),
    labelCap: num(argv, 'label-cap', int(1, 1_000_000), 'an integer from 1 to 1000000'),
  };
}

export function snapshotConfig(argv: Argv): SnapshotConfig {
  return {
    ...sourcesConfig(argv),
    durationMs: num(argv, 'duration', seconds, 'seconds above 0 and at most 86400') * 1000,
    json: Boolean(argv.json),
  };
}

export const explainOptions = {
  server: {
    type: 'string',
    default: '',
    describe: "The running daemon's HTTP address (http://host:port); '' = the local daemon, from --listen (FLAPWATCH_LISTEN) or its default",
  },
  limit: { type: 'number', default: 10, describe: 'Incidents to show, newest first' },
  json: { type: 'boolean', default: false, describe: 'Print the JSON the daemon answers' },
  listen: runOptions.listen,
} as const satisfies Record<string, Options>;

export interface ExplainConfig {
  namespace: string;
  name: string;
  /** base URL of the daemon */
  server: string;
  limit: number;
  json: boolean;
}

export function explainConfig(argv: Argv): ExplainConfig {
  const target = String(argv.service ?? '');
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(target);
  if (!m) throw new ConfigError(`explain takes NAMESPACE/SERVICE, got ${JSON.stringify(target)}`);
  let server = String(argv.server ?? '');
  if (!server) {
    const { host, port } = parseListen(String(argv.listen));
    const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    server = `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
  }
  if (!/^https?:\/\/[^/]+\/?$/.test(server)) throw new ConfigError(`--server must be http(s)://host:port, got ${server}`);
  return { namespace: m[1]!, name: m[3]!, server: server.replace(/\/$/, ''), limit: num(argv, 'limit', int(1, 1000), 'an integer from 1 to 1000'), json: Boolean(argv.json) };
}
