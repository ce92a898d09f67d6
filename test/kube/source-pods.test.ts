// This node's pods (and their probes), kubelet's Unhealthy Events and EndpointSlice readiness flips.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadinessFlip, UnhealthyEvent } from '../../src/kube/types';
import { eventually } from '../helpers/env';
import { harness, NODE } from './harness';
import { endpointSlice, pod, service, unhealthyEvent } from './objects';

const HOUR_AGO = new Date(Date.now() - 3_600_000);

test('pods: only this node\'s, running, with their probes as kubelet reads them', async () => {
  const h = await harness({
    before: (fake) => {
      fake.put('pods', pod('shop', 'web-1', NODE, '10.1.0.1', [{
        name: 'web',
        ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9000 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
        livenessProbe: { tcpSocket: { port: 'admin' }, timeoutSeconds: 3, failureThreshold: 6 },
        startupProbe: { exec: { command: ['true'] } },
      }, {
        name: 'sidecar',
        readinessProbe: { grpc: { port: 9090 } },
        livenessProbe: { httpGet: { path: '/live', port: 'missing', scheme: 'HTTPS' } },
      }]));
      fake.put('pods', pod('shop', 'web-2', 'node-b', '10.1.0.2'));
      fake.put('pods', pod('shop', 'job-1', NODE, '10.1.0.3', undefined, { phase: 'Succeeded' }));
      fake.put('pods', pod('kube-system', 'proxy', NODE, '192.168.0.1', undefined, { hostNetwork: true }));
    },
  });
  try {
    await h.source.start();
    assert.equal(h.fake.requests.find((r) => r.resource === 'pods')!.query.fieldSelector, `spec.nodeName=${NODE}`);
    assert.deepEqual(h.source.pods().map((p) => p.name).sort(), ['proxy', 'web-1']);
    const web = h.source.podByIp('10.1.0.1')!;
    assert.equal(web.name, 'web-1');
    assert.equal(web.nodeName, NODE);
    assert.deepEqual(web.ips, ['10.1.0.1']);
    assert.deepEqual(web.probes, [
      { container: 'web', type: 'Readiness', timeoutSeconds: 1, periodSeconds: 5, failureThreshold: 3, handler: { kind: 'http', path: '/ready', port: 8080, scheme: 'HTTP' } },
      { container: 'web', type: 'Liveness', timeoutSeconds: 3, periodSeconds: 10, failureThreshold: 6, handler: { kind: 'tcp', port: 9000 } },
      { container: 'web', type: 'Startup', timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 3, handler: { kind: 'exec' } },
      { container: 'sidecar', type: 'Readiness', timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 3, handler: { kind: 'grpc', port: 9090 } },
      { container: 'sidecar', type: 'Liveness', timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 3, handler: { kind: 'http', path: '/live', port: 0, scheme: 'HTTPS' } },
    ]);
    assert.equal(h.source.podByIp('192.168.0.1'), undefined, 'a hostNetwork pod\'s address is the node\'s');
    assert.equal(h.lines.filter((l) => l.level === 40 && /pod shop\/web-1: .*"missing" is not one of its ports/.test(l.msg)).length, 1);
    h.fake.put('pods', pod('shop', 'web-3', NODE, '10.1.0.4'));
    h.fake.put('pods', pod('shop', 'web-4', 'node-b', '10.1.0.5'));
    h.fake.remove('pods', 'kube-system', 'proxy');
    await eventually(() => h.source.pods().map((p) => p.name).sort().join() === 'web-1,web-3', 'the changed list');
    assert.equal(h.source.podByIp('10.1.0.5'), undefined);
  } finally {
    await h.close();
  }
});

test('Unhealthy events: history is not news, count rises are, once each; other nodes\' are not ours', async () => {
  const h = await harness({
    before: (fake) => {
      fake.put('pods', pod('shop', 'web-1', NODE, '10.1.0.1'));
      fake.put('pods', pod('shop', 'web-2', 'node-b', '10.1.0.2'));
      fake.put('events', unhealthyEvent('shop', 'web-1.old', { pod: 'web-1', count: 7, last: HOUR_AGO }));
    },
  });
  try {
    const seen: UnhealthyEvent[] = [];
    h.source.onUnhealthy((e) => seen.push(...e));
    await h.source.start();
    assert.equal(h.fake.requests.find((r) => r.resource === 'events')!.query.fieldSelector, 'involvedObject.kind=Pod,reason=Unhealthy');
    const last = new Date(Date.now() + 1000);
    h.fake.put('events', unhealthyEvent('shop', 'web-1.old', { pod: 'web-1', count: 9, last }));
    h.fake.put('events', unhealthyEvent('shop', 'web-2.a', { pod: 'web-2', host: 'node-b' }));
    h.fake.put('events', unhealthyEvent('shop', 'gone.a', { pod: 'gone-pod', host: NODE, container: 'db', message: 'Liveness probe failed: HTTP probe failed with statuscode: 503' }));
    await eventually(() => seen.length === 2, 'two events');
    const old = h.fake.store.get('events', 'shop', 'web-1.old')!;
    assert.deepEqual(seen[0], {
      pod: { namespace: 'shop', name: 'web-1' }, uid: old.metadata.uid, container: 'app', count: 2,
      message: 'Readiness probe failed: Get "http://10.0.0.1:8080/health": context deadline exceeded',
      at: Math.floor(last.getTime() / 1000) * 1000,
    });
    assert.equal(seen[1]!.pod.name, 'gone-pod', 'a pod we no longer know, reported by this node\'s kubelet');
    assert.equal(seen[1]!.container, 'db');
    assert.equal(seen[1]!.count, 1);
    // the same count again (a relabel, say) is no news; an events.k8s.io series count is read too
    const same = h.fake.store.get('events', 'shop', 'web-1.old')!;
    same.metadata.labels = { x: 'y' };
    h.fake.put('events', same);
    const series = unhealthyEvent('shop', 'web-1.series', { pod: 'web-1' });
    delete series.count;
    series.series = { count: 4, lastObservedTime: new Date().toISOString() };
    h.fake.put('events', series);
    await eventually(() => seen.length === 3, 'the series event');
    assert.equal(seen[2]!.count, 4);
    h.fake.remove('events', 'shop', 'web-1.old');
    h.fake.put('events', unhealthyEvent('shop', 'web-1.old', { pod: 'web-1', count: 1 })); // a new Event, same name
    await eventually(() => seen.length === 4, 'the new event');
    assert.equal(seen[3]!.count, 1);
  } finally {
    await h.close();
  }
});

test('readiness flips: this node\'s endpoints only, not for the first list, not for an endpoint changing slices', async () => {
  const ports = [{ name: 'http', port: 8080 }];
  const h = await harness({
    before: (fake) => {
      fake.put('services', service('shop', 'web', { ports: [{ name: 'http', port: 80 }] }));
      fake.put('endpointslices', endpointSlice('shop', 'web', 'web-x', ports, [
        { ip: '10.1.0.1', node: NODE, pod: 'web-1', ready: false },
        { ip: '10.1.0.2', node: 'node-b', pod: 'web-2' },
      ]));
    },
  });
  try {
    const flips: ReadinessFlip[] = [];
    h.source.onReadiness((f) => flips.push(...f));
    await h.source.start();
    h.fake.put('endpointslices', endpointSlice('shop', 'web', 'web-x', ports, [
      { ip: '10.1.0.1', node: NODE, pod: 'web-1', ready: true },
      { ip: '10.1.0.2', node: 'node-b', pod: 'web-2', ready: false },
    ]));
    await eventually(() => flips.length === 1, 'a flip');
    assert.deepEqual({ ...flips[0], at: 0 }, { service: { namespace: 'shop', name: 'web' }, pod: { namespace: 'shop', name: 'web-1' }, addr: '10.1.0.1', ready: true, at: 0 });
    // the controller moves web-1 to another slice: added there first, then removed here
    h.fake.put('endpointslices', endpointSlice('shop', 'web', 'web-y', ports, [{ ip: '10.1.0.1', node: NODE, pod: 'web-1', ready: true }]));
    h.fake.put('endpointslices', endpointSlice('shop', 'web', 'web-x', ports, [{ ip: '10.1.0.2', node: 'node-b', pod: 'web-2' }]));
    h.fake.put('endpointslices', endpointSlice('shop', 'web', 'web-y', ports, [{ ip: '10.1.0.1', node: NODE, pod: 'web-1', ready: false }]));
    await eventually(() => flips.length === 2, 'the next flip');
    assert.deepEqual(flips.map((f) => f.ready), [true, false]);
    assert.deepEqual(h.index.byName('shop', 'web')[0]!.endpoints.map((e) => [e.ip, e.ready]).sort(), [['10.1.0.1', false], ['10.1.0.2', true]]);
  } finally {
    await h.close();
  }
});
