import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServiceIndex, servicePortName, type ServicePortView } from '../../src/services/index';

const view = (over: Partial<ServicePortView> = {}): ServicePortView => ({
  namespace: 'shop',
  name: 'db',
  portName: 'pg',
  protocol: 'tcp',
  vips: [{ ip: '10.96.0.20', port: 5432 }],
  endpoints: [{ ip: '10.77.1.2', port: 5432 }],
  ...over,
});

test('finds a Service port by VIP, by endpoint, and by endpoint IP alone', () => {
  const index = new ServiceIndex();
  index.publish('rules', [view()]);
  assert.equal(index.byVip('10.96.0.20', 5432, 'tcp')?.name, 'db');
  assert.equal(index.byVip('10.96.0.20', 5432, 'udp'), undefined);
  assert.equal(index.byVip('10.96.0.20', 80, 'tcp'), undefined);
  assert.equal(index.byEndpoint('10.77.1.2', 5432, 'tcp')?.name, 'db');
  assert.equal(index.byEndpoint('10.77.1.2')?.name, 'db');
  assert.equal(index.byEndpoint('10.77.1.3'), undefined);
  assert.equal(servicePortName(index.ports()[0]!), 'shop/db:pg');
  assert.equal(servicePortName(view({ portName: '' })), 'shop/db');
});

test('the API wins over the rules for a Service both know; the rules still cover the rest', () => {
  const index = new ServiceIndex();
  index.publish('rules', [view(), view({ name: 'legacy', vips: [{ ip: '10.96.0.30', port: 80 }], endpoints: [] })]);
  index.publish('kubernetes', [view({ vips: [{ ip: '10.96.0.21', port: 5432 }] })]);
  assert.equal(index.byVip('10.96.0.20', 5432, 'tcp'), undefined, "the rules' stale ClusterIP is gone");
  assert.equal(index.byVip('10.96.0.21', 5432, 'tcp')?.name, 'db');
  assert.equal(index.byVip('10.96.0.30', 80, 'tcp')?.name, 'legacy');
  assert.equal(index.ports().length, 2);
  index.publish('kubernetes', []);
  assert.equal(index.byVip('10.96.0.20', 5432, 'tcp')?.name, 'db', 'publishing replaces: the rules are back');
});
