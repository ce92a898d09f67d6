import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleCounters } from '../../src/kubeproxy/counters';

const delta = (c: RuleCounters, samples: { key: string; packets?: number; bytes?: number; instance?: string }[]) =>
  Object.fromEntries([...c.update(samples)].map(([k, d]) => [k, [d.packets, d.bytes]]));

test('the first reading is a baseline: nothing counts', () => {
  const c = new RuleCounters();
  assert.deepEqual(delta(c, [{ key: 'a', packets: 500, bytes: 30_000 }]), { a: [0, 0] });
  assert.deepEqual(delta(c, [{ key: 'a', packets: 512, bytes: 30_720 }]), { a: [12, 720] });
});

test('a decrease is a reset: the new value is the delta, never a negative one', () => {
  const c = new RuleCounters();
  delta(c, [{ key: 'a', packets: 100, bytes: 6000 }]);
  assert.deepEqual(delta(c, [{ key: 'a', packets: 3, bytes: 180 }]), { a: [3, 180] });
  assert.deepEqual(delta(c, [{ key: 'a', packets: 3, bytes: 180 }]), { a: [0, 0] });
  assert.deepEqual(delta(c, [{ key: 'a', packets: 0, bytes: 0 }]), { a: [0, 0] });
  // bytes went down while packets did not: still a reset
  delta(c, [{ key: 'a', packets: 10, bytes: 1000 }]);
  assert.deepEqual(delta(c, [{ key: 'a', packets: 10, bytes: 600 }]), { a: [10, 600] });
});

test('a re-created rule (new nft handle) is a reset even when its counter grew past the old one', () => {
  const c = new RuleCounters();
  delta(c, [{ key: 'a', packets: 5, bytes: 300, instance: '17' }]);
  assert.deepEqual(delta(c, [{ key: 'a', packets: 8, bytes: 480, instance: '42' }]), { a: [8, 480] });
  assert.deepEqual(delta(c, [{ key: 'a', packets: 9, bytes: 540, instance: '42' }]), { a: [1, 60] });
});

test('a rule that appears after the first reading counts in full; gone rules are forgotten', () => {
  const c = new RuleCounters();
  delta(c, [{ key: 'a', packets: 1, bytes: 60 }]);
  assert.deepEqual(delta(c, [{ key: 'a', packets: 1, bytes: 60 }, { key: 'new', packets: 7, bytes: 420 }]), { a: [0, 0], new: [7, 420] });
  assert.deepEqual(delta(c, [{ key: 'new', packets: 7, bytes: 420 }]), { new: [0, 0] });
  assert.deepEqual(delta(c, [{ key: 'a', packets: 2, bytes: 120 }]), { a: [2, 120] }); // back, as a new rule
});

test('rules with one key add up; rules without counters (nftables mode) are left out', () => {
  const c = new RuleCounters();
  delta(c, [{ key: 'a', packets: 1, bytes: 10 }, { key: 'a', packets: 2, bytes: 20 }, { key: 'n' }]);
  assert.deepEqual(delta(c, [{ key: 'a', packets: 2, bytes: 20 }, { key: 'a', packets: 4, bytes: 40 }, { key: 'n' }]), { a: [3, 30] });
});
