// The fake API server speaks the protocol the official client expects: @kubernetes/client-node's own typed
// API, Watch and informer run against it unchanged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { eventually } from '../helpers/env';
import { testTls } from './harness';
import { FakeApiServer } from './fake-apiserver';
import { tempDir, TOKEN, writeKubeconfig } from './kubeconfig';
import { pod, service } from './objects';

let fake: FakeApiServer;
let kc: k8s.KubeConfig;
const tmp = tempDir();

before(async () => {
  fake = await FakeApiServer.start({ tls: testTls(), token: TOKEN });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(writeKubeconfig(tmp.dir, fake.url, { ca: testTls().cert }));
  for (const n of ['a', 'b', 'c', 'd', 'e']) fake.put('services', service('default', `svc-${n}`, { clusterIP: `10.96.0.${n.charCodeAt(0)}` }));
});

after(async () => {
  await fake.close();
  tmp.remove();
});

interface WatchLog {
  events: { type: string; obj: k8s.KubernetesObject & { code?: number } }[];
  done: Promise<unknown>;
}

async function watch(path: string, query: Record<string, string | number | boolean | undefined>): Promise<WatchLog & { abort: () => void }> {
  const events: WatchLog['events'] = [];
  let finish: (err: unknown) => void = () => undefined;
  const done = new Promise<unknown>((resolve) => (finish = resolve));
  const ctl = await new k8s.Watch(kc).watch(path, query, (type, obj) => events.push({ type, obj }), (err) => finish(err));
  return { events, done, abort: () => ctl.abort() };
}

test('the typed client lists in pages, each page from the first page\'s snapshot', async () => {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const first = await api.listServiceForAllNamespaces({ limit: 2 });
  assert.deepEqual(first.items.map((s) => s.metadata?.name), ['svc-a', 'svc-b']);
  assert.equal(first.items[0]!.spec?.clusterIP, '10.96.0.97');
  assert.ok(first.metadata?._continue);
  fake.put('services', service('default', 'svc-bb', {})); // after the snapshot: not in the next pages
  const names: string[] = [];
  for (let cont: string | undefined = first.metadata?._continue; cont; ) {
    const page = await api.listServiceForAllNamespaces({ limit: 2, _continue: cont });
    names.push(...page.items.map((s) => s.metadata!.name!));
    assert.equal(page.metadata?.resourceVersion, first.metadata?.resourceVersion);
    cont = page.metadata?._continue;
  }
  assert.deepEqual(names, ['svc-c', 'svc-d', 'svc-e']);
  fake.remove('services', 'default', 'svc-bb');
});

test('an expired continue token is HTTP 410 Expired', async () => {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const first = await api.listServiceForAllNamespaces({ limit: 2 });
  fake.store.bump();
  fake.store.compact();
  await assert.rejects(api.listServiceForAllNamespaces({ limit: 2, _continue: first.metadata!._continue! }), (err: k8s.ApiException<unknown>) => {
    assert.equal(err.code, 410);
    assert.match(JSON.stringify(err.body), /Expired/);
    return true;
  });
});

test('the client\'s Watch gets changes, bookmarks, and 410 as an ERROR event carrying a Status', async () => {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const rv = (await api.listServiceForAllNamespaces({})).metadata!.resourceVersion!;
  const w = await watch('/api/v1/services', { resourceVersion: rv, allowWatchBookmarks: true });
  await eventually(() => fake.watching('services') === 1, 'the watch to open');
  fake.put('services', service('default', 'svc-f', {}));
  fake.remove('services', 'default', 'svc-a');
  fake.bookmark('services');
  await eventually(() => w.events.length === 3, 'three events');
  assert.deepEqual(w.events.map((e) => [e.type, e.obj.metadata?.name]), [['ADDED', 'svc-f'], ['DELETED', 'svc-a'], ['BOOKMARK', undefined]]);
  assert.equal(w.events[2]!.obj.metadata?.resourceVersion, String(fake.store.rv));
  w.abort();

  fake.store.compact();
  const old = await watch('/api/v1/services', { resourceVersion: rv });
  await old.done;
  assert.equal(old.events[0]?.type, 'ERROR');
  assert.equal(old.events[0]?.obj.code, 410);
});

test('the client\'s informer lists and watches through a label selector; selectors are checked as the real server does', async () => {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  fake.put('pods', pod('default', 'web-1', 'node-a', '10.1.0.1'));
  fake.put('pods', pod('default', 'db-1', 'node-b', '10.1.0.2'));
  const informer = k8s.makeInformer(kc, '/api/v1/pods', () => api.listPodForAllNamespaces({ labelSelector: 'app=web' }), 'app=web');
  const added: string[] = [];
  informer.on('add', (p) => added.push(p.metadata!.name!));
  await informer.start();
  await eventually(() => fake.watching('pods') === 1, 'the informer to watch');
  fake.put('pods', pod('default', 'db-2', 'node-a', '10.1.0.3'));
  fake.put('pods', pod('default', 'web-2', 'node-b', '10.1.0.4'));
  await eventually(() => added.length === 2, 'two web pods');
  assert.deepEqual(added, ['web-1', 'web-2']);
  await informer.stop();
  const onNode = await api.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' });
  assert.deepEqual(onNode.items.map((p) => p.metadata?.name).sort(), ['db-2', 'web-1']);
  await assert.rejects(api.listPodForAllNamespaces({ fieldSelector: 'spec.nodeNme=x' }), (err: k8s.ApiException<unknown>) => err.code === 400);
});

test('without the token the server answers 401', async () => {
  const bad = new k8s.KubeConfig();
  bad.loadFromFile(writeKubeconfig(tmp.dir, fake.url, { ca: testTls().cert, token: 'wrong' }));
  await assert.rejects(bad.makeApiClient(k8s.CoreV1Api).listServiceForAllNamespaces({}), (err: k8s.ApiException<unknown>) => err.code === 401);
});
