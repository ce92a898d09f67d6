// Periodic: runs never overlap, runs on demand queue behind, a task that throws does not stop the schedule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Periodic } from '../../src/observe/periodic';
import { eventually } from '../helpers/env';

test('no overlap, queued runs, errors reported and survived, stop waits', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const errors: unknown[] = [];
  let release: () => void = () => undefined;
  const p = new Periodic(20, async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs++;
    if (runs === 2) await new Promise<void>((resolve) => (release = resolve));
    active--;
    if (runs === 3) throw new Error('bug');
  }, 'test', (err) => errors.push(err));
  await p.start();
  assert.equal(runs, 1);
  const second = p.now(); // held open until release()
  const third = p.now();
  await eventually(() => runs === 2, 'the second run');
  assert.equal(runs, 2, 'the third waits for the second');
  release();
  await Promise.all([second, third]);
  assert.equal(errors.length, 1);
  await eventually(() => runs >= 6, 'the schedule goes on after a throw');
  await p.stop();
  const after = runs;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(runs, after, 'nothing after stop');
  assert.equal(maxActive, 1);
  assert.throws(() => new Periodic(0, async () => undefined, 'x', () => undefined), /x: interval must be > 0/);
});
