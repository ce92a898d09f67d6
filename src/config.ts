// Flags, their defaults and their validation. Loud at start: a bad value throws a ConfigError naming the flag.
import { hostname } from 'node:os';
import type { Options } from 'yargs';
import { DEFAULT_BENIGN_REASONS, normalizeReasonName } from './kernel/reasons';
import { SERVICE_ACCOUNT_DIR } from './kube/access';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './log';

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
  connections: {
    type: 'boolean',
    default: true,
    describe: 'Count TCP connects per client address and destination in the kernel (sock:inet_sock_set_state): the service graph\'s connections and connect latency',
  },
  'max-connection-keys': {
    type: 'number',
    default: 16384,
    describe: 'Capacity of the in-kernel connect aggregation by client address × destination, and of the connects in SYN_SENT timed at once (LRU)',
  },
  'netns-scope': {
    type: 'string',
    choices: ['all', 'pid-namespace'],
    default: 'all',
    describe: "Which network namespaces count: 'all' of the kernel's (a real node's kernel holds only that node), or 'pid-namespace': the daemon's own and its PID namespace's tasks' (several lab nodes on one kernel)",
  },
  'benign-reasons': {
    type: 'string',
    default: DEFAULT_BENIGN_REASONS.join(','),
    describe: "Drop reasons that are not loss (comma list; replaces the default; '' counts every reason). The daemon has the kernel count them without keeping their flows; snapshot shows them",
  },
} as const satisfies Record<string, Options>;

const logLevel = (fallback: LogLevel) =>
  ({ type: 'string', choices: LOG_LEVELS, default: fallback, describe: 'Log level' }) as const satisfies Options;

const logFormat = {
  type: 'string',
  choices: LOG_FORMATS,
  defaultDescription: 'pretty on a terminal, else json',
  describe: 'Log lines as JSON (for a log collector) or as colored lines for a person (pino-pretty)',
} as const satisfies Options;

/** Flags of the commands that read conntrack and kube-proxy's rules besides the tracer. */
export const nodeOptions = {
  'unreplied-interval': {
    type: 'number',
    default: 10,
    describe: 'Seconds between dumps of the conntrack flows still waiting for a reply (the kernel filters the dump), which also find those that died unanswered: keep it under the shortest unreplied timeout (UDP, 30 s); 0 turns both off',
  },
  'rules-full-interval': {
    type: 'number',
    default: 300,
    describe: "Seconds between full reads of kube-proxy's rules when nothing changed (a change brings one sooner)",
  },
} as const satisfies Record<string, Options>;

/** Kubernetes, kubelet and health-check flags of `run`. */
export const clusterOptions = {
  kubeconfig: {
    type: 'string',
    default: '',
    describe: "A kubeconfig file for the Kubernetes API; '' = in-cluster when KUBERNETES_SERVICE_HOST is set, else standalone (no API)",
  },
  'serviceaccount-dir': {
    type: 'string',
    default: SERVICE_ACCOUNT_DIR,
    describe: 'In a cluster: where the ServiceAccount token and CA are mounted (re-read, so rotated tokens work)',
  },
  'node-name': { type: 'string', default: '', describe: "This node's name (spec.nodeName of its pods); '' = the host name (the DaemonSet sets NODE_NAME)" },
  'kubelet-url': {
    type: 'string',
    default: '',
    describe: "kubelet's probe metrics; '' = https://<node-name>:10250/metrics/probes when the API is in use; 'none' turns them off",
  },
  'kubelet-token': { type: 'string', describe: "Bearer token file for kubelet (re-read at every poll); '' sends none [default: token in --serviceaccount-dir]" },
  'kubelet-ca': { type: 'string', describe: "CA bundle that signed kubelet's serving certificate [default: ca.crt in --serviceaccount-dir]" },
  'kubelet-insecure-tls': { type: 'boolean', default: false, describe: "Accept kubelet's self-signed serving certificate (as metrics-server's --kubelet-insecure-tls)" },
  'kubelet-interval': { type: 'number', default: 10, describe: 'Seconds between reads of kubelet probe metrics' },
  probe: { type: 'string', array: true, default: [] as string[], describe: 'A URL to probe actively, as a health check (repeatable); standalone or beside the annotated Services' },
  'probe-interval': { type: 'number', default: 10, describe: 'Seconds between active probes of each --probe URL' },
  'probe-timeout': { type: 'number', default: 2, describe: 'Seconds an active probe of a --probe URL may take' },
  'probe-concurrency': { type: 'number', default: 16, describe: 'Active probes in flight at most' },
  'redact-payloads': { type: 'boolean', default: true, describe: 'Hide credential-looking values in health payloads shown by /incidents, /services and logs' },
  'listen-overflows': { type: 'boolean', default: true, describe: "Read each pod network namespace's listen-queue overflows (needs hostPID in a DaemonSet)" },
  'cpu-throttling': { type: 'boolean', default: true, describe: "Read this node's pods' CPU throttling from their cgroups (with the Kubernetes API; the DaemonSet mounts the host's cgroups)" },
  'cgroup-mount': { type: 'string', default: '/sys/fs/cgroup', describe: "Where the host's cgroup hierarchies are mounted" },
  'cgroup-root': { type: 'string', default: '', describe: "kubelet's --cgroup-root, when it sets one" },
  'window-slack': { type: 'number', default: 0.5, describe: 'Seconds after a failure whose evidence still counts' },
  'peer-service': {
    type: 'string',
    default: 'flapwatch/flapwatch',
    describe: "The daemons' headless Service (NAMESPACE/NAME): a failure whose packets went to another node's pods asks that node's flapwatch; '' judges alone",
  },
  'peer-timeout': { type: 'number', default: 1, describe: "Seconds another node's flapwatch has to answer before the incident says it did not" },
  history: { type: 'number', default: 300, describe: 'Seconds of evidence the correlator keeps' },
} as const satisfies Record<string, Options>;

export const runOptions = {
  ...tracerOptions,
  ...nodeOptions,
  ...clusterOptions,
  dns: {
    type: 'boolean',
    default: true,
    describe: "Follow DNS over UDP and TCP port 53 from each query to its answer in the kernel, for every socket of the node (cgroup_skb on --cgroup-mount's cgroup v2 hierarchy, or the device tracepoints)",
  },
  'dns-hook': {
    type: 'string',
    choices: ['auto', 'cgroup_skb', 'tracepoints'] as const,
    default: 'auto',
    describe: 'Where DNS is seen: auto = cgroup_skb when the kernel (6.3+) and a cgroup v2 hierarchy allow it, else the device tracepoints',
  },
  'max-dns-queries': { type: 'number', default: 16384, describe: 'DNS queries waiting for their answer the kernel follows at most (full, it refuses new ones, counted)' },
  'max-dns-flows': { type: 'number', default: 4096, describe: 'Capacity of the in-kernel DNS aggregation by client, server and rcode (LRU: evictions counted)' },
  'samples-per-second': { type: 'number', default: 100, describe: 'Cap on per-packet drop samples sent to user space for logs; 0 turns samples off' },
  'ring-bytes': { type: 'number', default: 262144, describe: 'Size of the sample ring buffer: a power of two, at least 4096' },
  listen: { type: 'string', default: `0.0.0.0:${DEFAULT_PORT}`, describe: 'HTTP address for /metrics, /healthz and /readyz (host:port, [v6]:port)' },
  'label-cap': { type: 'number', default: 2000, describe: 'Label sets per metric before new ones fold into service="other"/location="other"' },
  'log-level': logLevel('info'),
  'log-format': logFormat,
} as const satisfies Record<string, Options>;

export const snapshotOptions = {
  ...tracerOptions,
  ...nodeOptions,
  duration: { type: 'number', default: 5, describe: 'Seconds to watch' },
  json: { type: 'boolean', default: false, describe: 'Print JSON instead of a table' },
  'log-level': logLevel('warn'),
  'log-format': logFormat,
} as const satisfies Record<string, Options>;

export interface SourcesConfig {
  intervalMs: number;
  btfPath: string;
  maxFlows: number;
  maxRetransmitFlows: number;
  /** null: no connection tracker */
  connections: { maxKeys: number } | null;
  netnsScope: 'all' | 'pid-namespace';
  benignReasons: string[];
  logLevel: LogLevel;
  /** undefined: pretty on a terminal, JSON otherwise */
  logFormat: LogFormat | undefined;
  /** 0 = off */
  unrepliedIntervalMs: number;
  rulesFullIntervalMs: number;
}

export interface ClusterConfig {
  /** null = standalone: no Kubernetes API */
  kubernetes: { kubeconfig: string; serviceAccountDir: string } | null;
  nodeName: string;
  /** null = no kubelet metrics */
  kubelet: { url: string; tokenFile: string; caFile: string; insecure: boolean; intervalMs: number } | null;
  probes: { url: string; intervalMs: number; timeoutMs: number }[];
  probeConcurrency: number;
  redactPayloads: boolean;
  listenOverflows: boolean;
  /** null: not read */
  cpuThrottling: { mount: string; cgroupRoot: string } | null;
  slackMs: number;
  historyMs: number;
  /** null: each node judges alone */
  peers: { service: { namespace: string; name: string }; timeoutMs: number } | null;
}

/** What the DNS source needs; null in RunConfig: DNS is not followed. */
export interface DnsConfig {
  /** the host's cgroup mount, whose cgroup v2 hierarchy cgroup_skb attaches to */
  cgroupMount: string;
  hook: 'auto' | 'cgroup_skb' | 'tracepoints';
  maxQueries: number;
  maxFlows: number;
}

export interface RunConfig extends SourcesConfig, ClusterConfig {
  dns: DnsConfig | null;
  samplesPerSecond: number;
  ringBytes: number;
  listen: { host: string; port: number };
  labelCap: number;
}

export interface SnapshotConfig extends SourcesConfig {
  durationMs: number;
  json: boolean;
}

export type Argv = Record<string, unknown>;

/** A numeric flag, checked: a ConfigError naming the flag and `what` it must be otherwise. */
export function num(argv: Argv, flag: string, ok: (n: number) => boolean, what: string): number {
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
    connections: argv.connections === false ? null : { maxKeys: num(argv, 'max-connection-keys', int(1, 1 << 24), 'an integer from 1 to 16777216') },
    netnsScope: argv['netns-scope'] === 'pid-namespace' ? 'pid-namespace' : 'all',
    benignReasons: parseReasons(String(argv['benign-reasons'])),
    logLevel: argv['log-level'] as LogLevel,
    logFormat: argv['log-format'] as LogFormat | undefined,
    unrepliedIntervalMs: num(argv, 'unreplied-interval', (n) => n === 0 || seconds(n), '0 or seconds at most 86400') * 1000,
    rulesFullIntervalMs: num(argv, 'rules-full-interval', seconds, 'seconds above 0 and at most 86400') * 1000,
  };
}

function clusterConfig(argv: Argv, env: NodeJS.ProcessEnv): ClusterConfig {
  const kubeconfig = String(argv.kubeconfig ?? '');
  const serviceAccountDir = String(argv['serviceaccount-dir'] ?? SERVICE_ACCOUNT_DIR);
  const kubernetes = kubeconfig || env.KUBERNETES_SERVICE_HOST ? { kubeconfig, serviceAccountDir } : null;
  const nodeName = String(argv['node-name'] ?? '') || hostname();
  const url = String(argv['kubelet-url'] ?? '');
  const kubeletUrl = url === 'none' ? '' : url || (kubernetes ? `https://${nodeName}:10250/metrics/probes` : '');
  if (kubeletUrl && !/^https?:\/\/[^/]+\//.test(kubeletUrl)) throw new ConfigError(`--kubelet-url must be an http(s) URL with a path, got ${kubeletUrl}`);
  const probeMs = num(argv, 'probe-interval', seconds, 'seconds above 0 and at most 86400') * 1000;
  const timeoutMs = num(argv, 'probe-timeout', (n) => n > 0 && n <= 60, 'seconds above 0 and at most 60') * 1000;
  const probes = ((argv.probe as unknown[] | undefined) ?? []).map(String).map((u) => {
    if (!/^https?:\/\//.test(u)) throw new ConfigError(`--probe takes http:// or https:// URLs, got ${u}`);
    return { url: u, intervalMs: probeMs, timeoutMs };
  });
  return {
    kubernetes,
    nodeName,
    kubelet: kubeletUrl
      ? {
        url: kubeletUrl, tokenFile: String(argv['kubelet-token'] ?? `${serviceAccountDir}/token`), caFile: String(argv['kubelet-ca'] ?? `${serviceAccountDir}/ca.crt`), insecure: Boolean(argv['kubelet-insecure-tls']),
        intervalMs: num(argv, 'kubelet-interval', seconds, 'seconds above 0 and at most 86400') * 1000,
      }
      : null,
    probes,
    probeConcurrency: num(argv, 'probe-concurrency', int(1, 1000), 'an integer from 1 to 1000'),
    redactPayloads: Boolean(argv['redact-payloads']),
    listenOverflows: Boolean(argv['listen-overflows']),
    cpuThrottling: kubernetes && argv['cpu-throttling'] !== false ? { mount: String(argv['cgroup-mount'] ?? '/sys/fs/cgroup'), cgroupRoot: String(argv['cgroup-root'] ?? '') } : null,
    slackMs: num(argv, 'window-slack', (n) => n >= 0 && n <= 60, 'seconds from 0 to 60') * 1000,
    peers: peersConfig(argv, kubernetes !== null),
    historyMs: num(argv, 'history', (n) => n >= 10 && n <= 86400, 'seconds from 10 to 86400') * 1000,
  };
}

function peersConfig(argv: Argv, kubernetes: boolean): ClusterConfig['peers'] {
  const value = String(argv['peer-service'] ?? '');
  const timeoutMs = num(argv, 'peer-timeout', (n) => n > 0 && n <= 10, 'seconds above 0 and at most 10') * 1000;
  if (!value || !kubernetes) return null;
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new ConfigError(`--peer-service takes NAMESPACE/NAME, got ${value}`);
  return { service: { namespace: m[1]!, name: m[3]! }, timeoutMs };
}

export function runConfig(argv: Argv, env: NodeJS.ProcessEnv = process.env): RunConfig {
  return {
    ...sourcesConfig(argv),
    ...clusterConfig(argv, env),
    dns: argv.dns === false ? null : {
      cgroupMount: String(argv['cgroup-mount'] ?? '/sys/fs/cgroup'),
      hook: (argv['dns-hook'] ?? 'auto') as DnsConfig['hook'],
      maxQueries: num(argv, 'max-dns-queries', int(1, 1 << 22), 'an integer from 1 to 4194304'),
      maxFlows: num(argv, 'max-dns-flows', int(1, 1 << 22), 'an integer from 1 to 4194304'),
    },
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
