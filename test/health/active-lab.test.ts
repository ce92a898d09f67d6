// Active probes from the lab's node namespace (where the daemon runs on a node): both paths to a Service, a 503
// with its payload, kube-proxy refusing the ClusterIP while the pods answer, and loss on the node's path to a pod.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthObservation } from '../../src/observe/health';
import type { ServicePort } from '../../src/observe/objects';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import { NetnsProber } from './netns-prober';

type Totals = Awaited<ReturnType<NetnsProber['totals']>>['totals'];
const failedOn = (t: Totals, path: string) => t.probes.filter((r) => r.path === path && r.result === 'failed').reduce((a, r) => a + r.count, 0);

test('active probes in the lab', { timeout: 300_000 }, async (t) => {
  if (kernelSkip) {
    t.skip(kernelSkip);
    return;
  }
  const lab = await Lab.create({ pods: 2 });
  const web = lab.service('web');
  const pods = lab.pods.map((name) => ({ namespace: 'default', name }));
  const ports: ServicePort[] = [{
    namespace: 'default', name: 'web', portName: 'http', protocol: 'tcp',
    port: web.port, clusterIPs: [web.clusterIP], externalIPs: [], loadBalancerIPs: [],
    endpoints: pods.map((pod, i) => ({ ip: lab.podIp(i), port: lab.podPort, pod, ready: true })),
    activeProbe: { path: '/health', port: web.port, intervalSeconds: 0.5, timeoutSeconds: 1 },
  }];
  const prober = NetnsProber.start(lab.node, ports, { concurrency: 4 });
  const obs = prober.observations;
  const since = (mark: number) => obs.slice(mark);
  const isPod = (o: HealthObservation, i: number) => o.path === 'pod' && o.pod?.name === pods[i]?.name;
  const podOk = (mark: number, i: number) => since(mark).some((o) => isPod(o, i) && o.ok);
  try {
    await t.test('both paths answer from the node namespace', async () => {
      await eventually(() => obs.some((o) => o.path === 'cluster_ip' && o.ok) && podOk(0, 0) && podOk(0, 1), 'ok on every path');
      const cip = obs.find((o) => o.path === 'cluster_ip') as HealthObservation;
      assert.deepEqual(cip.target, { ip: web.clusterIP, port: web.port });
      assert.deepEqual(cip.service, { namespace: 'default', name: 'web' });
      assert.equal(cip.pod, undefined, 'the ClusterIP path cannot know which pod kube-proxy picked');
      assert.deepEqual(obs.find((o) => isPod(o, 1))?.target, { ip: lab.podIp(1), port: lab.podPort });
    });

    await t.test('failHealth: the pod answers 503 with a payload naming the dependency; the retry fails too', async () => {
      const undo = await lab.failHealth(0);
      const mark = obs.length;
      await eventually(() => since(mark).some((o) => isPod(o, 0) && !o.ok), 'a failed probe of pod 0');
      const f = since(mark).find((o) => isPod(o, 0) && !o.ok) as HealthObservation;
      assert.equal(f.kind, 'http-status');
      assert.equal(f.status, 503);
      assert.equal(f.detail, 'HTTP 503 Service Unavailable');
      assert.deepEqual(f.failedDependencies, ['db']);
      assert.deepEqual(f.payload, { status: 'fail', pod: pods[0]?.name, checks: { db: { status: 'down' } } });
      assert.deepEqual(f.retry, { ok: false, detail: 'HTTP 503 Service Unavailable' });
      await undo();
      const after = obs.length;
      await eventually(() => podOk(after, 0), 'pod 0 healthy again');
      assert.ok(since(mark).filter((o) => isPod(o, 1)).every((o) => o.ok), 'pod 1 was never down');
    });

    await t.test('rejectService: the ClusterIP path is refused while the pod path succeeds', async () => {
      const before = (await prober.totals()).totals;
      const undo = await lab.rejectService('web');
      const mark = obs.length;
      await eventually(() => since(mark).filter((o) => o.path === 'cluster_ip' && !o.ok).length >= 2 && podOk(mark, 0) && podOk(mark, 1), 'refusals and pod answers');
      const during = (await prober.totals()).totals;
      await undo();
      const refused = since(mark).filter((o) => o.path === 'cluster_ip' && !o.ok);
      assert.ok(refused.every((o) => o.kind === 'refused' && o.retry?.ok === false), JSON.stringify(refused[0]));
      assert.match(refused[0]?.detail ?? '', /ECONNREFUSED/);
      // the differential: failures on the ClusterIP path only, so kube-proxy's and not the pods'
      assert.ok(failedOn(during, 'cluster_ip') - failedOn(before, 'cluster_ip') >= 2);
      assert.equal(failedOn(during, 'pod'), failedOn(before, 'pod'));
      const retried = during.retries.find((r) => r.path === 'cluster_ip' && r.retry === 'failed');
      assert.ok(retried && retried.namespace === 'default' && retried.service === 'web' && retried.count >= 2);
      const after = obs.length;
      await eventually(() => since(after).some((o) => o.path === 'cluster_ip' && o.ok), 'the ClusterIP answers again');
    });

    await t.test('half the node\'s packets to a pod dropped: SYNs lost, some retries recover and some do not', async () => {
      const undo = await lab.dropFromNode(0, 0.5);
      const mark = obs.length;
      const lost = () => since(mark).filter((o) => isPod(o, 0) && !o.ok);
      await eventually(() => lost().some((o) => o.retry?.ok) && lost().some((o) => o.retry?.ok === false), 'both retry outcomes', 120_000);
      await undo();
      // Every packet is at risk, not only SYNs: a request lost twice (RTO 200 ms, then 400 ms) times out after the connect.
      for (const o of lost()) {
        assert.equal(o.kind, 'timeout');
        assert.match(o.detail ?? '', /^timed out after 1000 ms while (connecting|awaiting headers)$/);
      }
      assert.ok(lost().some((o) => o.detail === 'timed out after 1000 ms while connecting'), 'a dropped SYN: no connection');
      const { totals } = await prober.totals();
      const pod = totals.retries.filter((r) => r.path === 'pod');
      assert.ok(pod.some((r) => r.retry === 'recovered') && pod.some((r) => r.retry === 'failed'));
    });
  } finally {
    await prober.stop();
    await lab.destroy();
  }
});
