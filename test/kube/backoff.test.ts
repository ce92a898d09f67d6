import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/kube/backoff';

test('backoff doubles up to its cap, each delay jittered within [half, whole], and resets', () => {
  let r = 0;
  const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => r);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [50, 100, 200, 400, 500, 500]);
  r = 1;
  assert.equal(b.next(), 1000);
  b.reset();
  assert.equal(b.next(), 100);
  const real = new Backoff({ initialMs: 100, maxMs: 1000 });
  const draws = Array.from({ length: 50 }, () => {
    real.reset();
    return real.next();
  });
  assert.ok(draws.every((d) => d >= 50 && d <= 100));
  assert.ok(new Set(draws).size > 1, 'jittered');
});
