// KubeletProbeSource against a fake kubelet over real TLS: counter deltas, resets, new series, auth failures,
// certificate checks and malformed lines.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { KubeletProbeSource, type KubeletProbeOptions } from '../../src/health/kubelet';
import type { HealthObservation } from '../../src/observe/health';
import { FakeKubelet, type ProbeSeries } from './fake-kubelet';

let kubelet: FakeKubelet;
let tokenFile: string;

before(async () => {
  kubelet = await FakeKubelet.start();
  tokenFile = path.join(kubelet.dir, 'token');
  fs.writeFileSync(tokenFile, `${kubelet.token}\n`);
});
after(() => kubelet.close());

const webReady: ProbeSeries = { namespace: 'default', pod: 'web-0', container: 'app', probe_type: 'Readiness', result: 'failed', pod_uid: 'u1' };
const webLive: ProbeSeries = { ...webReady, probe_type: 'Liveness' };
const webOk: ProbeSeries = { ...webReady, result: 'successful' };

function source(over: Partial<KubeletProbeOptions> = {}): { src: KubeletProbeSource; seen: HealthObservation[] } {
  const src = new KubeletProbeSource({
    url: kubelet.url, tokenFile, caFile: kubelet.caFile, intervalMs: 3_600_000, logger: pino({ level: 'silent' }), ...over,
  });
  const seen: HealthObservation[] = [];
  src.onObservations((items) => seen.push(...items));
  return { src, seen };
}

test('the first read primes; each rise of failed becomes one observation with the delta', async () => {
  kubelet.set(webReady, 5);
  kubelet.set(webLive, 1);
  kubelet.set(webOk, 100);
  const probes = (_pod: unknown, container: string | undefined, type: string) =>
    container === 'app' && type === 'Readiness'
      ? { container: 'app', type: 'Readiness' as const, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 3, handler: { kind: 'exec' as const } }
      : undefined;
  const { src, seen } = source({ probes });
  await src.start();
  assert.equal(seen.length, 0, 'old failures are history, not news');
  assert.deepEqual(src.stats()[0]!, { source: 'kubelet', up: true, reason: '', errors: 0, eventsLost: 0, rateLimited: 0 });
  assert.equal(kubelet.authorizations.at(-1), `Bearer ${kubelet.token}`);

  kubelet.add(webReady, 2);
  kubelet.add(webOk, 10);
  await src.read();
  assert.equal(seen.length, 1);
  const o = seen[0] as HealthObservation;
  assert.equal(o.source, 'kubelet');
  assert.equal(o.ok, false);
  assert.deepEqual(o.pod, { namespace: 'default', name: 'web-0' });
  assert.equal(o.container, 'app');
  assert.equal(o.probe, 'Readiness');
  assert.equal(o.count, 2);
  assert.match(o.detail, /2 failed readiness probes of default\/web-0 container app/);
  // the spec's 2 s + 5 s, plus the time since the previous read (the failures happened somewhere in it)
  assert.ok(o.lookbackMs >= 7000 && o.lookbackMs < 7000 + 60_000, String(o.lookbackMs));

  await src.read();
  assert.equal(seen.length, 1, 'no rise, nothing new');

  kubelet.add(webLive, 1);
  await src.read();
  assert.equal(seen.at(-1)?.probe, 'Liveness');
  assert.equal(seen.at(-1)?.count, 1);
  assert.ok((seen.at(-1)?.lookbackMs ?? 0) >= 11_000, 'no spec: kubelet\'s defaults 1 s + 10 s');
  await src.stop();
  assert.equal(src.stats()[0]!.up, false);
});

test('a series first seen after priming counts from zero; a decrease is a reset, never negative', async () => {
  kubelet.set(webReady, 7);
  kubelet.set(webLive, undefined);
  const { src, seen } = source();
  await src.start();
  const db: ProbeSeries = { ...webReady, pod: 'db-0', pod_uid: 'u2' };
  kubelet.set(db, 1); // kubelet creates the failed series at the pod's first failure
  await src.read();
  assert.deepEqual(seen.map((o) => [o.pod?.name, o.count]), [['db-0', 1]]);

  kubelet.set(webReady, 2); // kubelet restarted: 2 failures since
  await src.read();
  assert.deepEqual(seen.map((o) => [o.pod?.name, o.count]), [['db-0', 1], ['web-0', 2]]);

  // the pod was recreated under the same name: a new uid, a new series from zero
  kubelet.set(webReady, undefined);
  kubelet.set({ ...webReady, pod_uid: 'u3' }, 3);
  await src.read();
  assert.deepEqual(seen.at(-1) && [seen.at(-1)?.pod?.name, seen.at(-1)?.count], ['web-0', 3]);
  assert.ok(seen.every((o) => (o.count ?? 0) > 0));
  await src.stop();
});

test('a wrong token is a 401 that says so; a 403 names the RBAC rule; both recover', async () => {
  kubelet.set(webReady, 1);
  const wrong = path.join(kubelet.dir, 'wrong-token');
  fs.writeFileSync(wrong, 'not-the-token');
  const { src, seen } = source({ tokenFile: wrong });
  await src.start();
  let s = src.stats()[0]!;
  assert.equal(s.up, false);
  assert.match(s.reason, /401 Unauthorized.*token/);
  assert.equal(s.errors, 1);

  fs.writeFileSync(wrong, kubelet.token); // the token is re-read at every poll (projected tokens rotate)
  kubelet.forceStatus = 403;
  await src.read();
  s = src.stats()[0]!;
  assert.equal(s.up, false);
  assert.match(s.reason, /403 Forbidden.*"get" on "nodes\/metrics"/);
  assert.equal(s.errors, 2);

  kubelet.forceStatus = undefined;
  await src.read(); // primes
  kubelet.add(webReady, 4);
  await src.read();
  assert.equal(src.stats()[0]!.up, true);
  assert.deepEqual(seen.map((o) => o.count), [4]);
  await src.stop();
});

test('TLS: the self-signed certificate is refused without its CA, accepted with it or with insecure', async () => {
  const strict = source({ caFile: undefined });
  await strict.src.start();
  assert.equal(strict.src.stats()[0]!.up, false);
  assert.match(strict.src.stats()[0]!.reason, /TLS: .*--kubelet-insecure-tls/);
  await strict.src.stop();

  const insecure = source({ caFile: undefined, insecure: true });
  await insecure.src.start();
  assert.equal(insecure.src.stats()[0]!.up, true, insecure.src.stats()[0]!.reason);
  await insecure.src.stop();

  const missing = source({ caFile: path.join(kubelet.dir, 'nope.crt') });
  await missing.src.start();
  assert.match(missing.src.stats()[0]!.reason, /cannot read kubelet's CA: .*ENOENT/);
  await missing.src.stop();
});

test('malformed lines are counted, reported, and do not hide the good ones', async () => {
  kubelet.set(webReady, 1);
  const { src, seen } = source();
  await src.start();
  kubelet.add(webReady, 1);
  kubelet.extra = 'prober_probe_total{namespace="default",pod="x" 1\nprober_probe_total{namespace="default"} lots\n';
  await src.read();
  assert.deepEqual(seen.map((o) => o.count), [1]);
  const s = src.stats()[0]!;
  assert.equal(s.up, true);
  assert.equal(s.errors, 2);
  assert.equal(src.malformedLines(), 2);
  assert.match(s.reason, /2 unreadable lines/);
  kubelet.extra = '';
  await src.read();
  assert.equal(src.stats()[0]!.reason, '');
  await src.stop();
});

test('nothing listening, and a bad URL at construction', async () => {
  const { src } = source({ url: 'https://127.0.0.1:1/metrics/probes' });
  await src.start();
  assert.match(src.stats()[0]!.reason, /connection refused/);
  await src.stop();
  assert.throws(() => source({ url: 'ftp://x/metrics/probes' }), /http\(s\)/);
  assert.throws(() => source({ url: 'not a url' }));
});
