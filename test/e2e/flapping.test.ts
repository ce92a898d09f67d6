// End to end in the lab, on the real kernel: web's /health calls db through db's ClusterIP; kubelet-style
// probes from the node check web's pods; a real daemon runs inside the node's namespace, with a fake API
// server and a fake kubelet. Each scenario injects one fault and asserts the incident's Service, verdict and
// named evidence. Run alone: (c) lowers the global nf_conntrack_max (restored after).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, kernelSkip } from '../helpers/env';
import { startCluster, type Cluster } from './cluster';
import { scenario as runScenario, type Done } from './scenario';

let cluster: Cluster;

const scenario = (inject: () => Promise<() => Promise<void>>, done: Done, what: string) => runScenario(cluster, inject, done, what);

describe('health-check failures in the lab, end to end', { skip: kernelSkip, timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startCluster();
    await eventually(() => cluster.probeResults.every((r) => r.length >= 2 && r.every(Boolean)), 'the probed pods to pass their probes', 20_000);
  });

  test('the start-up line of active probes: up, with the annotated Services already read from the API', () => {
    const line = cluster.logs().find((l) => l.source === 'active_probes' && typeof l.up === 'boolean');
    assert.ok(line, 'a start-up line for active probes');
    assert.equal(line.up, true);
    assert.equal(line.reason, '', String(line.reason));
  });
  after(async () => {
    await cluster?.close();
  });

  test('(a) random drops on db\'s endpoint path: web fails with netfilter-drop naming db', async () => {
    const found = await scenario(() => cluster.lab.dropOnPath(2, 0.9), (i) => i.verdict === 'netfilter-drop' && i.downstream.includes('shop/db'), 'a netfilter-drop incident naming db');
    const i = found.find((x) => x.verdict === 'netfilter-drop')!;
    assert.equal(i.namespace, 'shop');
    assert.equal(i.evidence[0]!.path, 'downstream');
    assert.equal(i.evidence[0]!.service, 'shop/db');
    assert.match(i.msg, /^shop\/web .*failed .*packets? to shop\/db \(10\.96\.\d+\.\d+:80\) dropped by a netfilter rule/);
  });

  test('(b) db has no endpoints: no-endpoints, naming db', async () => {
    const found = await scenario(() => cluster.dbEndpoints(false), (i) => i.verdict === 'no-endpoints', 'a no-endpoints incident');
    const i = found.find((x) => x.verdict === 'no-endpoints')!;
    assert.deepEqual(i.downstream, ['shop/db']);
    assert.match(i.msg, /rejected: the Service has no endpoints/);
  });

  test('(c) conntrack table full: conntrack-table-full', async () => {
    await scenario(() => cluster.lab.conntrackFull(1), (i) => i.verdict === 'conntrack-table-full', 'a conntrack-table-full incident');
  });

  test('(d) web answers 503, its payload says db is down, no loss anywhere: none, with the payload\'s detail', async () => {
    const found = await scenario(async () => {
      const undos = [await cluster.lab.failHealth(0), await cluster.lab.failHealth(1)];
      return async () => {
        for (const u of undos) await u();
      };
    }, {
      all: (list) => list.some((i) => i.verdict === 'none' && i.path !== undefined && (i.failedDependencies ?? []).includes('db'))
        && list.some((i) => i.sources.includes('kubelet') || i.sources.includes('event')),
    }, 'an active probe incident with the payload, and kubelet\'s');
    assert.ok(found.every((i) => i.verdict === 'none'), `no network verdict without a network cause: ${JSON.stringify(found.map((i) => i.verdict))}`);
    const active = found.find((i) => i.path !== undefined)!;
    assert.match(active.msg, /no packet was lost on its path .*look at the application; its payload says db failed/);
  });

  test('(e) drops on the node → pod path only: the probe path\'s drop, and the pod-vs-ClusterIP differential', async () => {
    const podIp = cluster.lab.podIp(0);
    const found = await scenario(async () => {
      const undo = await cluster.lab.dropFromNode(0, 1);
      try {
        // clients of web, through the ClusterIP and FORWARD, are not on that path
        const web = cluster.lab.service('shop/web');
        const r = await cluster.lab.httpGet(cluster.lab.client, web.clusterIP, web.port, '/health', 3000);
        assert.notEqual(r.error, 'ETIMEDOUT');
      } catch (err) {
        await undo(); // else the fault outlives the scenario
        throw err;
      }
      return undo;
    }, {
      all: (list) => list.some((i) => i.pod === 'shop/web-0' && i.verdict === 'netfilter-drop' && i.evidence[0]?.path === 'probe')
        && list.some((i) => i.path === 'pod'),
    }, 'a probe-path incident for web-0, and one of the daemon\'s pod-path probes');
    const kubeletSide = found.find((i) => i.pod === 'shop/web-0' && i.verdict === 'netfilter-drop')!;
    assert.ok(kubeletSide.evidence.every((e) => e.path === 'probe'));
    const podPath = found.filter((i) => i.path === 'pod');
    assert.ok(podPath.length > 0 && podPath.every((i) => i.target === `${podIp}:8080`), `only web-0's pod path failed: ${JSON.stringify(podPath.map((i) => i.target))}`);
    assert.ok(found.every((i) => i.pod !== 'shop/web-1'), 'web-1 is not on the faulty path');
  });

  test('(f) web\'s pod stops accepting and its backlog fills: listen-overflow', async () => {
    const found = await scenario(() => cluster.lab.stopAccepting(0), (i) => i.verdict === 'listen-overflow', 'a listen-overflow incident');
    const i = found.find((x) => x.verdict === 'listen-overflow')!;
    assert.match(i.msg, /SYNs lost to a full accept queue: pod shop\/web-0/);
  });

  test('every incident line is one failure that happened, and says it in plain words first', () => {
    const all = cluster.incidents();
    assert.ok(all.length >= 6);
    // the daemon's own probes are failures by definition; kubelet's incidents each stand for one its prober saw
    const kubelets = all.filter((i) => i.path === undefined);
    const phantom = kubelets.filter((i) => !cluster.failures.some((f) => i.pod === `shop/${f.pod}` && Math.abs(Date.parse(i.at) - f.at) <= 2500));
    assert.ok(kubelets.length > 0);
    assert.deepEqual(phantom, []);
    for (const i of all) {
      assert.match(i.msg, /^shop\/(web|api)(-\d)? .* failed \(/);
      assert.ok(i.sources.length >= 1);
    }
  });
});
