// The list+watch protocol under faults: 410 Gone, a stream cut in the middle of an event, 500s, an API server
// that is not there at start or goes away, bookmarks, slow answers. No change is lost or seen twice, and the
// log has one line per change of state, never one per retry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeSource, STATE_SETTLE_MS } from '../../src/kube/source';
import type { ReadinessFlip, UnhealthyEvent } from '../../src/kube/types';
import { eventually, freePort } from '../helpers/env';
import { FakeApiServer } from './fake-apiserver';
import { captureLogger, harness, NODE, RecordingIndex, TEST_BACKOFF, testTls, type LogLine } from './harness';
import { tempDir, TOKEN, writeKubeconfig, writeServiceAccount } from './kubeconfig';
import { endpointSlice, pod, service, unhealthyEvent } from './objects';

const MINUTE_AGO = new Date(Date.now() - 60_000);
const stateLines = (lines: LogLine[]) => lines.filter((l) => /^kubernetes (API up|API down|source up, partly)/.test(l.msg));
const allWatching = (fake: FakeApiServer) => (['services', 'endpointslices', 'pods', 'events'] as const).every((r) => fake.watching(r) === 1);

function seed(fake: FakeApiServer): void {
  fake.put('services', service('default', 'web', { clusterIP: '10.96.0.5' }));
  fake.put('services', service('default', 'old', { clusterIP: '10.96.0.6' }));
  fake.put('endpointslices', endpointSlice('default', 'web', 'web-1', [{ port: 8080 }], [{ ip: '10.1.0.5', node: NODE, pod: 'web-a' }]));
  fake.put('pods', pod('default', 'web-a', NODE, '10.1.0.5'));
  fake.put('events', unhealthyEvent('default', 'web-a.1', { pod: 'web-a', count: 1, last: MINUTE_AGO }));
}

function record(source: KubeSource): { unhealthy: UnhealthyEvent[]; flips: ReadinessFlip[] } {
  const out = { unhealthy: [] as UnhealthyEvent[], flips: [] as ReadinessFlip[] };
  source.onUnhealthy((e) => out.unhealthy.push(...e));
  source.onReadiness((f) => out.flips.push(...f));
  return out;
}

test('410 Gone: every resource relists, and what changed meanwhile arrives once', async () => {
  const h = await harness({ before: seed });
  try {
    const seen = record(h.source);
    await h.source.start();
    await eventually(() => allWatching(h.fake), 'four watches');
    // while the watches are down: changes, then compaction (one synchronous turn: no client can resume between)
    h.fake.cutWatches();
    h.fake.put('events', unhealthyEvent('default', 'web-a.1', { pod: 'web-a', count: 3 }));
    h.fake.put('endpointslices', endpointSlice('default', 'web', 'web-1', [{ port: 8080 }], [{ ip: '10.1.0.5', node: NODE, pod: 'web-a', ready: false }]));
    h.fake.put('services', service('default', 'new', { clusterIP: '10.96.0.7' }));
    h.fake.remove('services', 'default', 'old');
    h.fake.store.compact();
    await eventually(() => seen.unhealthy.length === 1 && seen.flips.length === 1 && !!h.index.byVip('10.96.0.7', 80, 'tcp'), 'the changes after the relist');
    assert.equal(h.index.byName('default', 'old').length, 0);
    assert.deepEqual(seen.unhealthy.map((e) => e.count), [2], 'count went 1 → 3 while away');
    assert.deepEqual(seen.flips.map((f) => [f.addr, f.ready, f.service.name, f.pod?.name]), [['10.1.0.5', false, 'web', 'web-a']]);
    for (const r of ['services', 'endpointslices', 'pods', 'events'] as const) {
      assert.equal(h.fake.requests.filter((q) => q.resource === r && q.verb === 'list').length, 2, `${r} listed twice`);
    }
    // and on from there: one more failure is one more count
    await eventually(() => allWatching(h.fake), 'four watches again');
    h.fake.put('events', unhealthyEvent('default', 'web-a.1', { pod: 'web-a', count: 4 }));
    await eventually(() => seen.unhealthy.length === 2, 'the next count');
    assert.deepEqual(seen.unhealthy.map((e) => e.count), [2, 1]);
    // a state line would come STATE_SETTLE_MS after the change it reports
    await new Promise((resolve) => setTimeout(resolve, STATE_SETTLE_MS + 200));
    assert.equal(stateLines(h.lines).length, 0, 'a relist is not a change of state');
  } finally {
    await h.close();
  }
});

test('a continue token expired between two pages: the list starts over and is published complete', async () => {
  const h = await harness({
    source: { pageSize: 2 },
    before: (fake) => {
      for (let i = 0; i < 5; i++) fake.put('services', service('default', `s-${i}`, { clusterIP: `10.96.2.${i}` }));
      let once = true;
      fake.onRequest((r) => {
        if (r.resource === 'services' && r.query.continue && once) {
          once = false;
          fake.put('services', service('default', 's-9', { clusterIP: '10.96.2.9' }));
          fake.store.compact();
        }
      });
    },
  });
  try {
    await h.source.start();
    assert.equal(h.index.publishes.length, 1);
    assert.deepEqual(h.index.publishes[0]!.map((p) => p.name).sort(), ['s-0', 's-1', 's-2', 's-3', 's-4', 's-9']);
    const lists = h.fake.requests.filter((r) => r.resource === 'services' && r.verb === 'list');
    assert.deepEqual(lists.map((r) => !!r.query.continue), [false, true, false, true, true]);
  } finally {
    await h.close();
  }
});

test('a stream cut in the middle of an event resumes from the last version seen, without a relist', async () => {
  const h = await harness({ before: seed });
  try {
    const seen = record(h.source);
    await h.source.start();
    await eventually(() => allWatching(h.fake), 'four watches');
    const rvBefore = h.source.resourceVersions().events!;
    h.fake.cutMidEvent('events');
    h.fake.put('events', unhealthyEvent('default', 'web-a.2', { pod: 'web-a', count: 1, message: 'Liveness probe failed: connection refused' }));
    h.fake.cutMidEvent('services');
    h.fake.put('services', service('default', 'later', { clusterIP: '10.96.0.8' }));
    await eventually(() => seen.unhealthy.length === 1 && !!h.index.byVip('10.96.0.8', 80, 'tcp'), 'the cut events after resuming');
    const watches = h.fake.requests.filter((r) => r.resource === 'events' && r.verb === 'watch');
    assert.equal(watches[watches.length - 1]!.query.resourceVersion, rvBefore, 'resumed from the last whole event');
    assert.equal(h.fake.requests.filter((r) => r.verb === 'list' && r.resource === 'events').length, 1, 'no relist');
    h.fake.put('events', unhealthyEvent('default', 'web-a.3', { pod: 'web-a' }));
    await eventually(() => seen.unhealthy.length === 2, 'the next event');
    assert.deepEqual(seen.unhealthy.map((e) => e.uid === h.fake.store.get('events', 'default', 'web-a.2')!.metadata.uid), [true, false]);
  } finally {
    await h.close();
  }
});

test('bookmarks move the resourceVersion on: after compaction the watch resumes instead of relisting', async () => {
  const h = await harness({ before: seed });
  try {
    await h.source.start();
    await eventually(() => allWatching(h.fake), 'four watches');
    h.fake.store.bump(50); // writes to other resources
    const mark = String(h.fake.store.rv);
    h.fake.bookmark('services');
    await eventually(() => h.source.resourceVersions().services === mark, 'the bookmark\'s version');
    h.fake.store.compact();
    h.fake.cutWatches('services');
    await eventually(() => h.fake.requests.filter((r) => r.resource === 'services' && r.verb === 'watch').length === 2, 'a second watch');
    await eventually(() => h.fake.watching('services') === 1, 'the watch to stay open');
    const watches = h.fake.requests.filter((r) => r.resource === 'services' && r.verb === 'watch');
    assert.equal(watches[1]!.query.resourceVersion, mark);
    assert.equal(watches[0]!.query.allowWatchBookmarks, 'true');
    assert.equal(h.fake.requests.filter((r) => r.resource === 'services' && r.verb === 'list').length, 1);
  } finally {
    await h.close();
  }
});

test('500s: down once, retried with backoff, up once; errors counted per attempt', async () => {
  const h = await harness({ before: (fake) => fake.fail({ resource: 'services', verb: 'list', answer: 500, times: 4 }) });
  try {
    await h.source.start();
    const down = h.source.stats()[0]!;
    assert.equal(down.up, false);
    assert.match(down.reason, /^services: HTTP 500 InternalError: injected 500/);
    await eventually(() => h.source.stats()[0]!.up, 'up after the 500s');
    assert.equal(h.source.stats()[0]!.errors, 4);
    assert.equal(h.fake.requests.filter((r) => r.resource === 'services' && r.verb === 'list').length, 5);
    await eventually(() => stateLines(h.lines).length === 1, 'the line saying so');
    assert.deepEqual(stateLines(h.lines).map((l) => l.msg.split(':')[0]), ['kubernetes API up'], 'the down state is the daemon\'s start-up line');
  } finally {
    await h.close();
  }
});

test('API unreachable at start: start() resolves, down; one line per change of state however many retries', async () => {
  const port = await freePort();
  const tmp = tempDir();
  const { logger, lines } = captureLogger();
  const index = new RecordingIndex();
  const kubeconfig = writeKubeconfig(tmp.dir, `https://127.0.0.1:${port}`, { ca: testTls().cert });
  const source = new KubeSource({ kubeconfig, nodeName: NODE, logger, backoff: TEST_BACKOFF, publishIntervalMs: 20 });
  source.onServices((ports) => index.publish('kubernetes', ports));
  let fake: FakeApiServer | undefined;
  try {
    await source.start();
    assert.equal(source.stats()[0]!.up, false);
    assert.match(source.stats()[0]!.reason, /ECONNREFUSED/);
    await eventually(() => source.stats()[0]!.errors >= 9, 'retries');
    assert.equal(stateLines(lines).length, 0);
    fake = await FakeApiServer.start({ port, tls: testTls(), token: TOKEN });
    seed(fake);
    await eventually(() => source.stats()[0]!.up && index.publishes.length === 1, 'up when the server appears');
    await eventually(() => stateLines(lines).length === 1, 'the up line');
    await fake.close();
    const errors = source.stats()[0]!.errors;
    await eventually(() => source.stats()[0]!.errors >= errors + 6, 'retries while it is away');
    assert.equal(source.stats()[0]!.up, false);
    await eventually(() => stateLines(lines).length === 2, 'the down line');
    fake = await FakeApiServer.start({ port, tls: testTls(), token: TOKEN });
    seed(fake);
    await eventually(() => source.stats()[0]!.up, 'up again');
    await eventually(() => stateLines(lines).length === 3, 'the second up line');
    assert.deepEqual(stateLines(lines).map((l) => l.msg.split(':')[0]), ['kubernetes API up', 'kubernetes API down, retrying', 'kubernetes API up']);
  } finally {
    await source.stop();
    await fake?.close();
    tmp.remove();
  }
});

test('slow answers are waited for; answers slower than requestTimeoutMs fail and are retried', async () => {
  const h = await harness({ before: seed, source: { requestTimeoutMs: 150 } });
  try {
    h.fake.slowMs = 50;
    await h.source.start();
    assert.equal(h.source.stats()[0]!.up, true);
    assert.equal(h.index.publishes.length, 1);
    h.fake.slowMs = 400;
    h.fake.cutWatches();
    await eventually(() => !h.source.stats()[0]!.up, 'down on timeouts');
    assert.match(h.source.stats()[0]!.reason, /no answer from 127\.0\.0\.1:\d+ for 0\.15 s/);
    h.fake.slowMs = 0;
    await eventually(() => h.source.stats()[0]!.up, 'up when answers are quick again');
  } finally {
    await h.close();
  }
});

test('in-cluster: the ServiceAccount token and CA; a rotated token is read on the next request', async () => {
  const tmp = tempDir();
  const fake = await FakeApiServer.start({ tls: testTls(), token: TOKEN });
  seed(fake);
  const sa = writeServiceAccount(tmp.dir, testTls().cert);
  const { logger } = captureLogger();
  const index = new RecordingIndex();
  const source = new KubeSource({ nodeName: NODE, logger, backoff: TEST_BACKOFF, inCluster: { host: '127.0.0.1', port: String(fake.port), dir: sa } });
  source.onServices((ports) => index.publish('kubernetes', ports));
  try {
    await source.start();
    assert.equal(source.stats()[0]!.up, true);
    assert.equal(index.byName('default', 'web').length, 1);
    writeServiceAccount(tmp.dir, testTls().cert, 'rotated');
    fake.token = 'rotated';
    fake.cutWatches();
    fake.put('services', service('default', 'after-rotation', { clusterIP: '10.96.0.9' }));
    await eventually(() => index.byName('default', 'after-rotation').length === 1, 'a change after the rotation');
    assert.equal(source.stats()[0]!.errors, 0);
  } finally {
    await source.stop();
    await fake.close();
    tmp.remove();
  }
});

test('a kubeconfig that cannot be read: down with the reason, start() still resolves; stop() is idempotent', async () => {
  const { logger } = captureLogger();
  const source = new KubeSource({ kubeconfig: '/nonexistent/kubeconfig', nodeName: NODE, logger, backoff: TEST_BACKOFF });
  await source.start();
  assert.match(source.stats()[0]!.reason, /kubeconfig \/nonexistent\/kubeconfig: ENOENT/);
  await Promise.all([source.stop(), source.stop()]);
  assert.deepEqual(source.stats()[0]!.reason, 'stopped');
});
