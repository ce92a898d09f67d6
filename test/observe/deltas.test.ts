import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CounterDeltas } from '../../src/observe/deltas';

const delta = (c: CounterDeltas, samples: [string, number][], stillThere?: (key: string) => boolean) =>
  Object.fromEntries(c.update(samples, stillThere));

test('the first reading is a baseline: nothing counts', () => {
  const c = new CounterDeltas();
  assert.deepEqual(delta(c, [['a', 500]]), {});
  assert.deepEqual(delta(c, [['a', 512]]), { a: 12 });
});

test('a decrease is a reset: the new value is the delta, never a negative one', () => {
  const c = new CounterDeltas();
  delta(c, [['a', 100]]);
  assert.deepEqual(delta(c, [['a', 3]]), { a: 3 });
  assert.deepEqual(delta(c, [['a', 3]]), {});
  assert.deepEqual(delta(c, [['a', 0]]), {});
});

test('a counter that appears after the first reading counts in full; gone counters are forgotten', () => {
  const c = new CounterDeltas();
  delta(c, [['a', 1]]);
  assert.deepEqual(delta(c, [['a', 1], ['new', 7]]), { new: 7 });
  assert.deepEqual(delta(c, [['new', 7]]), {});
  assert.deepEqual(delta(c, [['a', 2]]), { a: 2 }); // back, as a new counter
});

test('counters read twice under one key add up; values that are no counts are left out', () => {
  const c = new CounterDeltas();
  delta(c, [['a', 1], ['a', 2], ['n', NaN], ['m', -1]]);
  assert.deepEqual(delta(c, [['a', 2], ['a', 4], ['n', 5]]), { a: 3, n: 5 });
  assert.equal(c.size, 2);
});

test('a counter that went unread this time is kept when the caller says it is still there', () => {
  const c = new CounterDeltas();
  delta(c, [['a', 10], ['b', 5]]);
  assert.deepEqual(delta(c, [['a', 11]], (k) => k === 'b'), { a: 1 });
  assert.deepEqual(delta(c, [['a', 11], ['b', 6]]), { b: 1 }, 'b kept its old value, so only its rise counts');
});
