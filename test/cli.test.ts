import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, test } from 'node:test';
import { parseInvocation, parser } from '../src/cli';
import { ConfigError, parseListen } from '../src/config';
import { DEFAULT_BENIGN_REASONS } from '../src/kernel/reasons';

const parse = (args: string[]) => parseInvocation(args, false);

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('FLAPWATCH_') && !(k in saved)) delete process.env[k];
});

test('run is the default command, with documented defaults', async () => {
  const inv = await parse([]);
  assert.equal(inv?.command, 'run');
  assert.deepEqual(inv?.config, {
    intervalMs: 1000, btfPath: '', maxFlows: 65536, maxRetransmitFlows: 16384, connections: { maxKeys: 16384 }, netnsScope: 'all',
    benignReasons: [...DEFAULT_BENIGN_REASONS], logLevel: 'info', logFormat: undefined, unrepliedIntervalMs: 10_000, rulesFullIntervalMs: 300_000,
    samplesPerSecond: 100, ringBytes: 262144, listen: { host: '0.0.0.0', port: 9807 }, labelCap: 2000,
    kubernetes: null, nodeName: hostname(), kubelet: null, probes: [], probeConcurrency: 16, redactPayloads: true,
    listenOverflows: true, cpuThrottling: null, slackMs: 500, historyMs: 300_000, peers: null,
    dns: { cgroupMount: '/sys/fs/cgroup', hook: 'auto', maxQueries: 16384, maxFlows: 4096 },
  });
});

test('DNS is followed unless --no-dns; its hook, capacities and the cgroup mount it attaches under are flags', async () => {
  const off = await parse(['run', '--no-dns']);
  if (off?.command !== 'run') throw new Error('run expected');
  assert.equal(off.config.dns, null);
  const set = await parse(['run', '--dns-hook', 'tracepoints', '--max-dns-queries', '100', '--max-dns-flows', '10', '--cgroup-mount', '/host/cgroup']);
  if (set?.command !== 'run') throw new Error('run expected');
  assert.deepEqual(set.config.dns, { cgroupMount: '/host/cgroup', hook: 'tracepoints', maxQueries: 100, maxFlows: 10 });
  await assert.rejects(parse(['run', '--dns-hook', 'kprobe']), /dns-hook/);
  await assert.rejects(parse(['run', '--max-dns-queries', '0']), /--max-dns-queries must be an integer from 1/);
});

test('--no-connections turns the connection tracker off; --netns-scope pid-namespace counts only this PID namespace\'s namespaces', async () => {
  const inv = await parse(['run', '--no-connections', '--netns-scope', 'pid-namespace']);
  if (inv?.command !== 'run') throw new Error('run expected');
  assert.equal(inv.config.connections, null);
  assert.equal(inv.config.netnsScope, 'pid-namespace');
  await assert.rejects(parse(['run', '--max-connection-keys', '0']), /--max-connection-keys must be an integer from 1/);
});

test('in a cluster the API and kubelet are on by default; --probe URLs are validated; --kubelet-url none turns kubelet off', async () => {
  process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
  try {
    const inv = await parse(['run', '--node-name', 'n1', '--probe', 'http://10.0.0.1/health', '--probe', 'https://x:8443/ready']);
    if (inv?.command !== 'run') throw new Error('run expected');
    assert.deepEqual(inv.config.kubernetes, { kubeconfig: '', serviceAccountDir: '/var/run/secrets/kubernetes.io/serviceaccount' });
    assert.equal(inv.config.kubelet?.url, 'https://n1:10250/metrics/probes');
    assert.deepEqual([inv.config.kubelet?.tokenFile, inv.config.kubelet?.caFile],
      ['/var/run/secrets/kubernetes.io/serviceaccount/token', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt']);
    // kubelet's token and CA follow --serviceaccount-dir unless given
    const moved = await parse(['run', '--serviceaccount-dir', '/sa', '--kubelet-ca', '/etc/kubelet-ca.crt']);
    if (moved?.command !== 'run') throw new Error('run expected');
    assert.deepEqual([moved.config.kubernetes?.serviceAccountDir, moved.config.kubelet?.tokenFile, moved.config.kubelet?.caFile], ['/sa', '/sa/token', '/etc/kubelet-ca.crt']);
    assert.deepEqual(inv.config.probes.map((p) => p.url), ['http://10.0.0.1/health', 'https://x:8443/ready']);
    // in a cluster a failure toward another node's pods asks that node's flapwatch, unless told not to
    assert.deepEqual(inv.config.peers, { service: { namespace: 'flapwatch', name: 'flapwatch' }, timeoutMs: 1000 });
    assert.deepEqual(inv.config.cpuThrottling, { mount: '/sys/fs/cgroup', cgroupRoot: '' }, 'pods are known: their throttling is read');
    const alone = await parse(['run', '--peer-service', '']);
    if (alone?.command !== 'run') throw new Error('run expected');
    assert.equal(alone.config.peers, null);
    await assert.rejects(parse(['run', '--peer-service', 'flapwatch']), /--peer-service takes NAMESPACE\/NAME/);
    const off = await parse(['run', '--kubelet-url', 'none']);
    if (off?.command !== 'run') throw new Error('run expected');
    assert.equal(off.config.kubelet, null);
  } finally {
    delete process.env.KUBERNETES_SERVICE_HOST;
  }
  await assert.rejects(parse(['run', '--probe', 'ftp://x/']), /--probe takes http/);
});

test('explain takes NAMESPACE/SERVICE and finds the local daemon from --listen', async () => {
  const inv = await parse(['explain', 'shop/web', '--listen', '0.0.0.0:9900']);
  assert.deepEqual(inv, { command: 'explain', config: { namespace: 'shop', name: 'web', server: 'http://127.0.0.1:9900', limit: 10, json: false } });
  await assert.rejects(parse(['explain', 'web']), /explain takes NAMESPACE\/SERVICE/);
});

test('flags are parsed and normalized', async () => {
  const inv = await parse(['run', '--listen', '[::1]:9100', '--interval', '0.5', '--benign-reasons', 'queue_purge, reason_7', '--label-cap', '10']);
  assert.equal(inv?.command, 'run');
  if (inv?.command !== 'run') return;
  assert.deepEqual(inv.config.listen, { host: '::1', port: 9100 });
  assert.equal(inv.config.intervalMs, 500);
  assert.deepEqual(inv.config.benignReasons, ['QUEUE_PURGE', 'reason_7']);
  assert.equal(inv.config.labelCap, 10);
});

test('snapshot takes --duration and --json, and logs quietly by default', async () => {
  const inv = await parse(['snapshot', '--duration', '2', '--json']);
  assert.equal(inv?.command, 'snapshot');
  if (inv?.command !== 'snapshot') return;
  assert.equal(inv.config.durationMs, 2000);
  assert.equal(inv.config.json, true);
  assert.equal(inv.config.logLevel, 'warn');
});

test('every flag has a FLAPWATCH_ variable', async () => {
  process.env.FLAPWATCH_LISTEN = '127.0.0.1:1234';
  process.env.FLAPWATCH_MAX_FLOWS = '2048';
  process.env.FLAPWATCH_BENIGN_REASONS = '';
  process.env.FLAPWATCH_LOG_LEVEL = 'debug';
  const inv = await parse([]);
  if (inv?.command !== 'run') return assert.fail('not run');
  assert.deepEqual(inv.config.listen, { host: '127.0.0.1', port: 1234 });
  assert.equal(inv.config.maxFlows, 2048);
  assert.deepEqual(inv.config.benignReasons, []);
  assert.equal(inv.config.logLevel, 'debug');
  const flagged = await parse(['--max-flows', '10']);
  assert.equal(flagged?.command === 'run' && flagged.config.maxFlows, 10, 'the command line wins');
});

test('--log-format json|pretty (FLAPWATCH_LOG_FORMAT) for both logging commands; unset, the logger decides by the terminal', async () => {
  const format = async (args: string[]) => {
    const inv = await parse(args);
    return inv?.command === 'run' || inv?.command === 'snapshot' ? inv.config.logFormat : assert.fail('run or snapshot');
  };
  assert.equal(await format([]), undefined);
  assert.equal(await format(['--log-format', 'pretty']), 'pretty');
  assert.equal(await format(['snapshot', '--log-format', 'json']), 'json');
  process.env.FLAPWATCH_LOG_FORMAT = 'pretty';
  assert.equal(await format(['snapshot']), 'pretty');
  assert.equal(await format(['--log-format', 'json']), 'json', 'the command line wins');
  delete process.env.FLAPWATCH_LOG_FORMAT;
  await assert.rejects(parse(['--log-format', 'text']), /Invalid values/);
});

test('one environment serves both commands; its other flags stay refused on the command line', async () => {
  process.env.FLAPWATCH_LISTEN = '127.0.0.1:1234';
  process.env.FLAPWATCH_DURATION = '3';
  assert.equal((await parse(['snapshot']))?.command, 'snapshot');
  assert.equal((await parse(['run']))?.command, 'run');
  await assert.rejects(parse(['snapshot', '--listen', '1.2.3.4:5']), /Unknown argument: listen/);
  await assert.rejects(parse(['run', '--json']), /Unknown argument: json/);
});

test('bad values are loud ConfigErrors naming the flag', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--interval', '0'], /--interval must be seconds above 0/],
    [['--interval', 'soon'], /--interval must be/],
    [['--max-flows', '1.5'], /--max-flows must be an integer/],
    [['--ring-bytes', '5000'], /--ring-bytes must be a power of two/],
    [['--samples-per-second', '-1'], /--samples-per-second must be/],
    [['--listen', 'localhost'], /--listen must be host:port/],
    [['--listen', ':70000'], /--listen must be/],
    [['--benign-reasons', 'QUEUE-PURGE'], /--benign-reasons takes reason names/],
    [['snapshot', '--duration', '0'], /--duration must be/],
    [['--label-cap', '0'], /--label-cap must be/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(parse(args), (err: Error) => err instanceof ConfigError && message.test(err.message), args.join(' '));
  }
});

test('unknown flags, commands, choices and FLAPWATCH_ variables fail', async () => {
  await assert.rejects(parse(['--bogus']), /Unknown argument: bogus/);
  await assert.rejects(parse(['explode']), /Unknown argument: explode/);
  await assert.rejects(parse(['--log-level', 'loud']), /Invalid values/);
  process.env.FLAPWATCH_LISTN = '1.2.3.4:5';
  await assert.rejects(parse([]), /Unknown argument: listn/);
});

test('--help lists every flag with its default and the environment variables', async () => {
  const help = await parser(['--help'], false).getHelp();
  for (const flag of ['--listen', '--interval', '--btf-path', '--max-flows', '--samples-per-second', '--ring-bytes', '--benign-reasons', '--label-cap', '--log-level']) {
    assert.ok(help.includes(flag), flag);
  }
  assert.match(help, /default: "0\.0\.0\.0:9807"/);
  assert.match(help, /FLAPWATCH_<FLAG>/);
  const snapshotHelp = await parser(['snapshot', '--help'], false).getHelp();
  assert.match(snapshotHelp, /--duration/);
  assert.match(snapshotHelp, /--json/);
  assert.ok(!snapshotHelp.includes('--listen'), 'the other command\'s flags stay hidden');
});

test('parseListen', () => {
  assert.deepEqual(parseListen(':9807'), { host: '0.0.0.0', port: 9807 });
  assert.deepEqual(parseListen('[::]:0'), { host: '::', port: 0 });
});

test('graph and rca read Prometheus: their defaults, FLAPWATCH_PROMETHEUS, and --at as RFC 3339 or Unix seconds', async () => {
  process.env.FLAPWATCH_PROMETHEUS = 'http://prometheus.monitoring:9090';
  assert.deepEqual(await parse(['graph']), {
    command: 'graph', config: { prometheus: 'http://prometheus.monitoring:9090', timeoutMs: 30_000, namespace: '', since: '15m', format: 'table' },
  });
  assert.deepEqual(await parse(['rca', '--window', '1h30m', '--json']), {
    command: 'rca', config: { prometheus: 'http://prometheus.monitoring:9090', timeoutMs: 30_000, atMs: undefined, window: '1h30m', windowMs: 5_400_000, json: true },
  });
  const at = async (value: string) => {
    const inv = await parse(['rca', '--at', value]);
    return inv?.command === 'rca' ? inv.config.atMs : undefined;
  };
  assert.equal(await at('2026-12-04T12:05:00Z'), Date.UTC(2026, 11, 4, 12, 5));
  assert.equal(await at('1796385900.5'), 1796385900500);
  // the daemon's own environment may hold them: run takes them and ignores them, as snapshot's flags
  assert.equal((await parse(['run']))?.command, 'run');
  await assert.rejects(parse(['run', '--since', '5m']), /Unknown argument: since/);
});
