import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PodStore } from '../../src/kube/pod-store';
import type { PodInfo } from '../../src/observe/objects';

const web: PodInfo = { namespace: 'shop', name: 'web-0', workload: { namespace: 'shop', kind: 'Deployment', name: 'web' }, uid: 'u', nodeName: 'n', ips: ['10.1.0.5', 'fd00::5'], hostNetwork: false, probes: [] };
const proxy: PodInfo = { namespace: 'kube-system', name: 'proxy', workload: { namespace: 'kube-system', kind: 'Deployment', name: 'proxy' }, uid: 'v', nodeName: 'n', ips: ['192.0.2.2'], hostNetwork: true, probes: [] };

test('pods by any of their addresses, hostNetwork ones excluded; a replaced pod loses its old addresses', () => {
  const store = new PodStore();
  store.set('shop/web-0', web);
  store.set('kube-system/proxy', proxy);
  assert.equal(store.byIp('fd00::5'), web);
  assert.equal(store.byIp('10.1.0.5'), web);
  assert.equal(store.byIp('192.0.2.2'), undefined, "a hostNetwork pod shares the node's addresses");
  store.set('shop/web-0', { ...web, ips: ['10.1.0.6'] });
  assert.equal(store.byIp('10.1.0.5'), undefined);
  assert.equal(store.byIp('10.1.0.6')?.name, 'web-0');
  store.remove('shop/web-0');
  assert.equal(store.byIp('10.1.0.6'), undefined);
  assert.equal(store.size(), 1);
});
