// ActiveProber against real HTTP servers on the loopback: fresh connections, retries that recover or not,
// the concurrency cap, no pile-up behind a slow endpoint, timeouts by phase, redaction, target refresh.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { ActiveProber, type ActiveProberOptions } from '../../src/health/active';
import type { HealthObservation } from '../../src/observe/health';
import type { ServicePort } from '../../src/observe/objects';
import { eventually } from '../helpers/env';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function prober(over: Partial<ActiveProberOptions>): { p: ActiveProber; seen: HealthObservation[] } {
  const p = new ActiveProber({ logger: pino({ level: 'silent' }), ...over });
  const seen: HealthObservation[] = [];
  p.onObservations((items) => seen.push(...items));
  return { p, seen };
}

const url = (port: number, path = '/health', intervalMs = 100, timeoutMs = 1000) => ({ url: `http://127.0.0.1:${port}${path}`, intervalMs, timeoutMs });

test('every probe opens a new connection and says Connection: close', async () => {
  const ports = new Set<number>();
  const headers: (string | undefined)[] = [];
  const s = await serve((req, res) => {
    ports.add(req.socket.remotePort ?? 0);
    headers.push(req.headers.connection);
    res.end('{"status":"ok"}');
  });
  const { p, seen } = prober({ urls: [url(s.port, '/health', 50)] });
  p.start();
  await eventually(() => seen.length >= 5, '5 probes');
  await p.stop();
  await s.close();
  assert.ok(ports.size >= 5, `${ports.size} source ports for ${seen.length} probes`);
  assert.ok(headers.every((h) => h === 'close'));
  const o = seen[0] as HealthObservation;
  assert.equal(o.ok, true);
  assert.equal(o.source, 'active');
  assert.equal(o.path, 'url');
  assert.equal(o.probe, 'GET /health');
  assert.deepEqual(o.target, { ip: '127.0.0.1', port: s.port });
  assert.deepEqual(o.service, { namespace: '', name: `http://127.0.0.1:${s.port}/health` });
  assert.equal(o.lookbackMs, 1050);
  assert.equal(o.payload, undefined, 'payloads are kept for failures');
  assert.deepEqual(p.totals().probes, [{ namespace: '', service: `http://127.0.0.1:${s.port}/health`, path: 'url', result: 'ok', count: seen.length }]);
});

test('a --probe URL whose address is a Service\'s is probed and counted under that Service', async () => {
  const s = await serve((_req, res) => res.end('{"status":"ok"}'));
  const { p, seen } = prober({ urls: [url(s.port, '/health', 50)], serviceAt: (ip, port) => (ip === '127.0.0.1' && port === s.port ? { namespace: 'shop', name: 'web' } : undefined) });
  await p.start();
  await eventually(() => seen.length >= 2, '2 probes');
  await p.stop();
  await s.close();
  assert.deepEqual(seen[0]!.service, { namespace: 'shop', name: 'web' });
  assert.equal(seen[0]!.path, 'url');
  assert.deepEqual(p.totals().probes.map((r) => [r.namespace, r.service, r.path]), [['shop', 'web', 'url']]);
});

test('a failure the immediate retry hides, and one it does not', async () => {
  let n = 0;
  const flaky = await serve((_req, res) => {
    n++;
    if (n % 2 === 1) res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"fail","checks":{"cache":{"status":"down"}}}');
    else res.end('{"status":"ok"}');
  });
  const down = await serve((_req, res) => res.writeHead(500).end('{"status":"DOWN","components":{"db":{"status":"DOWN"}}}'));
  const { p, seen } = prober({ urls: [url(flaky.port, '/a', 200), url(down.port, '/b', 200)] });
  p.start();
  await eventually(() => seen.filter((o) => !o.ok).length >= 4, 'failures from both');
  await p.stop();
  await Promise.all([flaky.close(), down.close()]);
  const flakyFail = seen.find((o) => !o.ok && o.target?.port === flaky.port) as HealthObservation;
  assert.equal(flakyFail.kind, 'http-status');
  assert.equal(flakyFail.status, 503);
  assert.deepEqual(flakyFail.retry, { ok: true, detail: 'HTTP 200 OK' });
  assert.deepEqual(flakyFail.failedDependencies, ['cache']);
  assert.deepEqual(flakyFail.payload, { status: 'fail', checks: { cache: { status: 'down' } } });
  const downFail = seen.find((o) => !o.ok && o.target?.port === down.port) as HealthObservation;
  assert.deepEqual(downFail.retry, { ok: false, detail: 'HTTP 500 Internal Server Error' });
  assert.deepEqual(downFail.failedDependencies, ['db']);
  assert.ok(seen.filter((o) => o.target?.port === flaky.port).every((o) => !o.ok), 'each turn fails first, then the retry passes');

  const { retries, probes } = p.totals();
  const row = (port: number, retry: string) => retries.find((r) => r.service.includes(`:${port}/`) && r.retry === retry)?.count ?? 0;
  assert.ok(row(flaky.port, 'recovered') >= 1 && row(flaky.port, 'failed') === 0);
  assert.ok(row(down.port, 'failed') >= 1 && row(down.port, 'recovered') === 0);
  const failed = probes.filter((r) => r.result === 'failed').reduce((a, r) => a + r.count, 0);
  assert.equal(failed, seen.filter((o) => !o.ok).length);
});

test('a failure is handed on at once, not after its retry; the retry fills in when it ends', async () => {
  let n = 0;
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => { release = r; });
  const s = await serve((_req, res) => {
    n++;
    // the first probe fails; its retry is held until the test has seen the failure
    if (n === 1) res.writeHead(503).end('{"status":"fail"}');
    else void held.then(() => res.writeHead(503).end('{"status":"fail"}'));
  });
  const { p, seen } = prober({ urls: [url(s.port, '/a', 200, 30_000)] });
  p.start();
  await eventually(() => seen.some((o) => !o.ok), 'the failure, while its retry is held');
  const failure = seen.find((o) => !o.ok) as HealthObservation;
  assert.equal(failure.retry, undefined, 'handed on before the retry ended');
  await eventually(() => n === 2, 'the retry in flight');
  assert.equal(failure.retry, undefined, 'nothing filled in while the retry is held');
  release();
  await eventually(() => failure.retry !== undefined, 'the retry filled in');
  await p.stop();
  await s.close();
  assert.deepEqual(failure.retry, { ok: false, detail: 'HTTP 503 Service Unavailable' });
});

test('the global cap bounds probes in flight; a slow target skips turns instead of piling up', async () => {
  let open = 0;
  let maxOpen = 0;
  const perPath = new Map<string, number>();
  let maxPerPath = 0;
  const slow = await serve((req, res) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    const k = req.url ?? '';
    perPath.set(k, (perPath.get(k) ?? 0) + 1);
    maxPerPath = Math.max(maxPerPath, perPath.get(k) ?? 0);
    setTimeout(() => {
      open--;
      perPath.set(k, (perPath.get(k) ?? 1) - 1);
      res.end('ok');
    }, 600);
  });
  const urls = Array.from({ length: 8 }, (_, i) => url(slow.port, `/slow/${i}`, 100, 5000));
  const { p, seen } = prober({ urls, concurrency: 3 });
  p.start();
  await eventually(() => seen.length >= 12 && p.stats()[0]!.rateLimited >= 8, 'slow probes and skipped turns', 30_000);
  await p.stop();
  await slow.close();
  assert.equal(maxOpen, 3, 'the cap is reached and never passed');
  assert.equal(maxPerPath, 1, 'one probe per target at a time');
  assert.ok(seen.every((o) => o.ok));
  const skipped = p.totals().skipped.reduce((a, r) => a + r.count, 0);
  assert.equal(skipped, p.stats()[0]!.rateLimited);
});

test('timeouts say the phase; refused and reset say so', async () => {
  // accepts, never answers: awaiting headers
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  // accepts and cuts the connection
  const rude = net.createServer((sock) => sock.resetAndDestroy());
  await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const port = (s: net.Server) => (s.address() as AddressInfo).port;
  const [silentPort, rudePort] = [port(silent), port(rude)];
  const first = () => 0; // every target's first turn at once
  const { p, seen } = prober({ urls: [url(silentPort, '/', 60_000, 300), url(rudePort, '/', 60_000), url(closedPort, '/', 60_000)], random: first });
  p.start();
  await eventually(() => seen.length === 3, 'three results');
  await p.stop();
  for (const s of [silent, rude]) s.close();
  const by = (pt: number) => seen.find((o) => o.target?.port === pt) as HealthObservation;
  assert.equal(by(silentPort).kind, 'timeout');
  assert.equal(by(silentPort).detail, 'timed out after 300 ms while awaiting headers');
  assert.equal(by(silentPort).retry?.ok, false);
  assert.equal(by(rudePort).kind, 'reset');
  assert.equal(by(closedPort).kind, 'refused');
  assert.match(by(closedPort).detail, /ECONNREFUSED/);
});

test('payloads are redacted unless told not to', async () => {
  const body = JSON.stringify({ status: 'fail', checks: { db: { status: 'down', url: 'postgres://app:hunter2@db:5432/x', password: 'hunter2' } } });
  const s = await serve((_req, res) => res.writeHead(503).end(body));
  for (const redact of [true, false]) {
    const { p, seen } = prober({ urls: [url(s.port, '/', 60_000)], redact, random: () => 0 });
    p.start();
    await eventually(() => seen.length === 1, 'one result');
    await p.stop();
    const text = JSON.stringify(seen[0]?.payload);
    assert.equal(text.includes('hunter2'), !redact, text);
    assert.deepEqual(seen[0]?.failedDependencies, ['db']);
  }
  await s.close();
});

test('Service targets: ClusterIP and each ready endpoint, refreshed as the index changes', async () => {
  const hits: string[] = [];
  const s = await serve((req, res) => {
    hits.push(req.url ?? '');
    res.end('ok');
  });
  const view = (endpoints: ServicePort['endpoints']): ServicePort => ({
    namespace: 'shop', name: 'web', portName: 'http', protocol: 'tcp',
    port: s.port, clusterIPs: ['127.0.0.1'], externalIPs: [], loadBalancerIPs: [], endpoints,
    activeProbe: { path: '/health', port: s.port, intervalSeconds: 0.1, timeoutSeconds: 1 },
  });
  const pod = { namespace: 'shop', name: 'web-0' };
  let ports: ServicePort[] = [view([{ ip: '127.0.0.2', port: s.port, pod, ready: true }, { ip: '127.0.0.3', port: s.port, ready: false }])];
  const { p, seen } = prober({ targets: () => ports, refreshMs: 100 });
  p.start();
  assert.equal(p.targetCount(), 2, 'the ClusterIP and the one ready endpoint');
  await eventually(() => seen.some((o) => o.path === 'pod') && seen.some((o) => o.path === 'cluster_ip'), 'both paths');
  const podObs = seen.find((o) => o.path === 'pod') as HealthObservation;
  assert.deepEqual(podObs.pod, pod);
  assert.deepEqual(podObs.target, { ip: '127.0.0.2', port: s.port });
  assert.deepEqual(podObs.service, { namespace: 'shop', name: 'web' });
  assert.equal(podObs.lookbackMs, 1100);

  // a multi-port Service probes on its probe's port only; a headless one (no ClusterIP) on its pods only
  const other = { ...view([{ ip: '127.0.0.9', port: 1, ready: true }]), portName: 'metrics', port: 9, clusterIPs: ['127.0.0.1'], externalIPs: [], loadBalancerIPs: [] };
  ports = [other, view([{ ip: '127.0.0.2', port: s.port, pod, ready: true }])];
  p.refresh();
  assert.equal(p.targetCount(), 2);
  ports = [{ ...view([{ ip: '127.0.0.2', port: s.port, pod, ready: true }]), clusterIPs: [], externalIPs: [], loadBalancerIPs: [] }];
  p.refresh();
  assert.equal(p.targetCount(), 1);
  await eventually(() => seen.at(-1)?.path === 'pod', 'a pod probe'); // a ClusterIP probe in flight at the refresh may land first
  const mark = seen.length;
  await eventually(() => seen.length >= mark + 3, 'three more probes');
  assert.ok(seen.slice(mark).every((o) => o.path === 'pod'), 'the headless Service\'s pod only');

  ports = [{ ...view([]), activeProbe: undefined }];
  await eventually(() => p.targetCount() === 0, 'opted out');
  assert.match(p.stats()[0]!.reason, /nothing to probe/);
  ports = [];
  await p.stop();
  await s.close();
  assert.equal(p.stats()[0]!.up, false);
  assert.throws(() => prober({ urls: [{ url: 'ftp://x/', intervalMs: 1, timeoutMs: 1 }] }), /only http and https/);
  assert.throws(() => prober({ concurrency: 0 }), /concurrency/);
});
