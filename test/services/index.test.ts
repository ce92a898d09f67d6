import assert from 'node:assert/strict';
import { test } from 'node:test';
import { servicePortName, type ServicePort } from '../../src/observe/objects';
import { ServiceIndex } from '../../src/services/index';

const view = (over: Partial<ServicePort> = {}): ServicePort => ({
  namespace: 'shop',
  name: 'db',
  portName: 'pg',
  protocol: 'tcp',
  port: 5432, clusterIPs: ['10.96.0.20'], externalIPs: [], loadBalancerIPs: [],
  endpoints: [{ ip: '10.77.1.2', port: 5432 }],
  ...over,
});

test('finds a Service port by VIP, by endpoint, and the Services an address backs', () => {
  const index = new ServiceIndex();
  index.publish('rules', [view()]);
  assert.equal(index.byVip('10.96.0.20', 5432, 'tcp')?.name, 'db');
  assert.equal(index.byVip('10.96.0.20', 5432, 'udp'), undefined);
  assert.equal(index.byVip('10.96.0.20', 80, 'tcp'), undefined);
  assert.equal(index.byEndpoint('10.77.1.2', 5432, 'tcp')?.name, 'db');
  assert.equal(index.serviceAt('10.96.0.20', 5432, 'tcp')?.name, 'db');
  assert.equal(index.serviceAt('10.77.1.2', 5432, 'tcp')?.name, 'db');
  assert.deepEqual(index.servicesOf(['10.77.1.2']), ['shop/db']);
  assert.deepEqual(index.servicesOf(['10.77.1.3']), []);
  assert.equal(servicePortName(index.ports()[0]!), 'shop/db:pg');
  assert.equal(servicePortName(view({ portName: '' })), 'shop/db');
});

test('the API wins over the rules for a Service both know; the rules still cover the rest', () => {
  const index = new ServiceIndex();
  index.publish('rules', [view(), view({ name: 'legacy', port: 80, clusterIPs: ['10.96.0.30'], externalIPs: [], loadBalancerIPs: [], endpoints: [] })]);
  index.publish('kubernetes', [view({ port: 5432, clusterIPs: ['10.96.0.21'], externalIPs: [], loadBalancerIPs: [] })]);
  assert.equal(index.byVip('10.96.0.20', 5432, 'tcp'), undefined, "the rules' stale ClusterIP is gone");
  assert.equal(index.byVip('10.96.0.21', 5432, 'tcp')?.name, 'db');
  assert.equal(index.byVip('10.96.0.30', 80, 'tcp')?.name, 'legacy');
  assert.equal(index.ports().length, 2);
  index.publish('kubernetes', []);
  assert.equal(index.byVip('10.96.0.20', 5432, 'tcp')?.name, 'db', 'publishing replaces: the rules are back');
});
