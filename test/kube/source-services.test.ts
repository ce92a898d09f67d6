// Services and EndpointSlices from the API → the ServiceIndex: the first list published once and complete,
// watch changes after it, addresses of every kind, and the active-probe annotations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vipsOf } from '../../src/observe/objects';
import { eventually } from '../helpers/env';
import { harness, NODE } from './harness';
import { endpointSlice, service } from './objects';

test('the first list is published once, complete, though it comes in pages', async () => {
  const h = await harness({
    source: { pageSize: 2 },
    before: (fake) => {
      for (let i = 0; i < 7; i++) {
        fake.put('services', service('shop', `svc-${i}`, { clusterIP: `10.96.1.${i}`, ports: [{ name: 'http', port: 80 }] }));
        fake.put('endpointslices', endpointSlice('shop', `svc-${i}`, `svc-${i}-x`, [{ name: 'http', port: 8080 }], [{ ip: `10.1.1.${i}`, node: NODE, pod: `svc-${i}-p` }]));
      }
    },
  });
  try {
    await h.source.start();
    assert.equal(h.index.publishes.length, 1);
    assert.equal(h.index.publishes[0]!.length, 7);
    for (let i = 0; i < 7; i++) assert.equal(h.index.byVip(`10.96.1.${i}`, 80, 'tcp')?.name, `svc-${i}`);
    const lists = h.fake.requests.filter((r) => r.verb === 'list' && r.resource === 'services');
    assert.equal(lists.length, 4, 'seven Services in pages of two');
    assert.ok(lists.slice(1).every((r) => r.query.continue));
    assert.deepEqual(h.source.stats()[0], { source: 'kubernetes', up: true, reason: '', errors: 0, eventsLost: 0, rateLimited: 0 });
  } finally {
    await h.close();
  }
});

test('views: ports matched by name and protocol, every kind of address, headless Services, several slices', async () => {
  const h = await harness({
    before: (fake) => {
      fake.put('services', service('default', 'dns', {
        clusterIP: '10.96.0.10',
        ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }],
      }));
      fake.put('endpointslices', endpointSlice('default', 'dns', 'dns-1', [{ name: 'dns', port: 1053, protocol: 'UDP' }, { name: 'dns-tcp', port: 1053 }], [
        { ip: '10.1.0.2', node: NODE, pod: 'dns-a' },
        { ip: '10.1.0.3', node: 'node-b', pod: 'dns-b', ready: false },
      ]));
      fake.put('endpointslices', endpointSlice('default', 'dns', 'dns-2', [{ name: 'dns', port: 1053, protocol: 'UDP' }], [{ ip: '10.1.0.4', node: 'node-c' }]));
      fake.put('services', service('default', 'lb', {
        clusterIP: '10.96.0.20', type: 'LoadBalancer', externalIPs: ['192.0.2.7'], loadBalancerIPs: ['198.51.100.1'],
        ports: [{ port: 443, nodePort: 30443 }],
      }));
      fake.put('services', service('default', 'db', { clusterIP: 'None', ports: [{ port: 5432 }] }));
      fake.put('endpointslices', endpointSlice('default', 'db', 'db-1', [{ port: 5432 }], [{ ip: '10.1.0.9', node: NODE, pod: 'db-0' }]));
      fake.put('services', service('default', 'ext', { type: 'ExternalName' }));
    },
  });
  try {
    await h.source.start();
    const dnsUdp = h.index.byVip('10.96.0.10', 53, 'udp')!;
    assert.equal(dnsUdp.portName, 'dns');
    assert.deepEqual(dnsUdp.endpoints.map((e) => [e.ip, e.port, e.ready, e.nodeName, e.pod?.name]).sort(), [
      ['10.1.0.2', 1053, true, NODE, 'dns-a'],
      ['10.1.0.3', 1053, false, 'node-b', 'dns-b'],
      ['10.1.0.4', 1053, true, 'node-c', undefined],
    ]);
    const dnsTcp = h.index.byVip('10.96.0.10', 53, 'tcp')!;
    assert.deepEqual(dnsTcp.endpoints.map((e) => e.ip).sort(), ['10.1.0.2', '10.1.0.3']);
    const lb = h.index.byName('default', 'lb')[0]!;
    assert.deepEqual(vipsOf(lb), [{ ip: '10.96.0.20', port: 443 }, { ip: '192.0.2.7', port: 443 }, { ip: '198.51.100.1', port: 443 }]);
    assert.deepEqual([lb.clusterIPs, lb.externalIPs, lb.loadBalancerIPs], [['10.96.0.20'], ['192.0.2.7'], ['198.51.100.1']]);
    assert.equal(lb.nodePort, 30443);
    const db = h.index.byName('default', 'db')[0]!;
    assert.deepEqual(vipsOf(db), [], 'a headless Service has no VIP');
    assert.equal(h.index.byEndpoint('10.1.0.9', 5432, 'tcp')?.name, 'db');
    assert.equal(h.index.byName('default', 'ext').length, 0, 'ExternalName is not kube-proxy\'s');
  } finally {
    await h.close();
  }
});

test('watch: added, modified and deleted Services and slices reach the index', async () => {
  const h = await harness({
    before: (fake) => fake.put('services', service('default', 'web', { clusterIP: '10.96.0.5', ports: [{ name: 'http', port: 80 }] })),
  });
  try {
    await h.source.start();
    assert.deepEqual(h.index.byName('default', 'web')[0]!.endpoints, []);
    h.fake.put('endpointslices', endpointSlice('default', 'web', 'web-1', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.5', node: NODE, pod: 'web-a' }]));
    await eventually(() => h.index.byEndpoint('10.1.0.5', 8080, 'tcp')?.name === 'web', 'the new endpoint');
    h.fake.put('services', service('default', 'web', { clusterIP: '10.96.0.6', ports: [{ name: 'http', port: 80 }] }));
    await eventually(() => !!h.index.byVip('10.96.0.6', 80, 'tcp'), 'the changed ClusterIP');
    assert.equal(h.index.byVip('10.96.0.5', 80, 'tcp'), undefined);
    h.fake.put('services', service('default', 'api', { clusterIP: '10.96.0.7' }));
    h.fake.remove('endpointslices', 'default', 'web-1');
    await eventually(() => !!h.index.byVip('10.96.0.7', 80, 'tcp') && h.index.servicesOf(['10.1.0.5']).length === 0, 'api added, web\'s endpoint gone');
    h.fake.remove('services', 'default', 'web');
    await eventually(() => h.index.byName('default', 'web').length === 0, 'web deleted');
    assert.equal(h.index.byName('default', 'api').length, 1);
  } finally {
    await h.close();
  }
});

test('a burst of changes is coalesced: at most one publish per publishIntervalMs', async () => {
  const h = await harness({ source: { publishIntervalMs: 200 } });
  try {
    await h.source.start();
    const before = h.index.publishes.length;
    const started = Date.now();
    for (let i = 0; i < 60; i++) {
      h.fake.put('services', service('burst', `s-${i}`, { clusterIP: `10.97.0.${i}` }));
      await new Promise((r) => setTimeout(r, 5)); // each change its own chunk on the stream
    }
    await eventually(() => h.index.byName('burst', 's-59').length === 1, 'the last of the burst');
    const publishes = h.index.publishes.length - before;
    // the bound follows the time the burst really took, so a slow machine cannot fail it
    const bound = Math.ceil((Date.now() - started) / 200) + 1;
    assert.ok(publishes <= bound, `${publishes} publishes for 60 changes in ${Date.now() - started} ms`);
    assert.equal(h.index.ports().length, 60);
  } finally {
    await h.close();
  }
});

test('annotations: an active probe on the named port; bad values warned once per Service, defaults used', async () => {
  const h = await harness({
    before: (fake) => {
      fake.put('services', service('default', 'good', {
        ports: [{ name: 'metrics', port: 9090 }, { name: 'http', port: 80 }],
        annotations: { 'flapwatch.io/health': '/health', 'flapwatch.io/health-port': 'http', 'flapwatch.io/health-interval': '5', 'flapwatch.io/health-timeout': '1.5s' },
      }));
      fake.put('services', service('default', 'bad', {
        clusterIP: '10.96.0.30',
        ports: [{ name: 'http', port: 8080 }],
        annotations: { 'flapwatch.io/health': '/ready', 'flapwatch.io/health-port': 'nope', 'flapwatch.io/health-interval': 'often', 'flapwatch.io/health-timeout': '-1' },
      }));
      fake.put('services', service('default', 'nopath', { clusterIP: '10.96.0.31', annotations: { 'flapwatch.io/health': 'health' } }));
      fake.put('services', service('default', 'plain', { clusterIP: '10.96.0.32' }));
    },
  });
  try {
    await h.source.start();
    const good = h.index.byName('default', 'good');
    assert.equal(good.find((p) => p.portName === 'metrics')!.activeProbe, undefined);
    assert.deepEqual(good.find((p) => p.portName === 'http')!.activeProbe, { path: '/health', port: 80, intervalSeconds: 5, timeoutSeconds: 1.5 });
    assert.deepEqual(h.index.byName('default', 'bad')[0]!.activeProbe, { path: '/ready', port: 8080, intervalSeconds: 10, timeoutSeconds: 2 });
    assert.equal(h.index.byName('default', 'nopath')[0]!.activeProbe, undefined);
    assert.equal(h.index.byName('default', 'plain')[0]!.activeProbe, undefined);
    const warnings = () => h.lines.filter((l) => l.level === 40 && /Service default\//.test(l.msg));
    assert.equal(warnings().length, 2);
    const bad = warnings().find((l) => l.msg.includes('default/bad'))!;
    assert.match(bad.msg, /health-port: "nope" names no port/);
    assert.match(bad.msg, /health-interval: "often" is not a number of seconds/);
    assert.match(bad.msg, /health-timeout: "-1"/);
    assert.match(warnings().find((l) => l.msg.includes('default/nopath'))!.msg, /not a path starting with \//);
    // the same bad values again (a label changed): no new warning
    const again = h.fake.store.get('services', 'default', 'bad')!;
    again.metadata.labels = { touched: 'yes' };
    h.fake.put('services', again);
    h.fake.put('services', service('default', 'marker', { clusterIP: '10.96.0.33' }));
    await eventually(() => h.index.byName('default', 'marker').length === 1, 'the change after it');
    assert.equal(warnings().length, 2);
  } finally {
    await h.close();
  }
});
