import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabelCap } from '../../src/report/label-cap';

const names = ['reason', 'service'] as const;

test('the first cap sets pass; later new sets fold into the overflow values', () => {
  let reached = 0;
  const cap = new LabelCap({ labelNames: names, cap: 2, overflow: { service: 'other' }, onCapReached: () => reached++ });
  assert.deepEqual(cap.admit({ reason: 'A', service: 's1' }), { reason: 'A', service: 's1' });
  assert.deepEqual(cap.admit({ reason: 'A', service: 's2' }), { reason: 'A', service: 's2' });
  assert.deepEqual(cap.admit({ reason: 'B', service: 's3' }), { reason: 'B', service: 'other' });
  assert.deepEqual(cap.admit({ reason: 'A', service: 's4' }), { reason: 'A', service: 'other' });
  assert.equal(reached, 1, 'reported once');
});

test('sets seen before the cap keep their labels afterwards', () => {
  const cap = new LabelCap({ labelNames: names, cap: 1, overflow: { service: 'other' } });
  cap.admit({ reason: 'A', service: 's1' });
  cap.admit({ reason: 'A', service: 's2' });
  assert.deepEqual(cap.admit({ reason: 'A', service: 's1' }), { reason: 'A', service: 's1' });
});

test('label values are compared whole, not by concatenation', () => {
  const cap = new LabelCap({ labelNames: names, cap: 2, overflow: { service: 'other' } });
  cap.admit({ reason: 'ab', service: 'c' });
  cap.admit({ reason: 'a', service: 'bc' });
  assert.equal(cap.admit({ reason: 'a', service: 'bc' }).service, 'bc');
  assert.equal(cap.admit({ reason: 'x', service: 'y' }).service, 'other');
});

test('a cap below 1 is a configuration error', () => {
  assert.throws(() => new LabelCap({ labelNames: names, cap: 0, overflow: {} }), /positive integer/);
});
