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

test('by: a round of asks for nearby times costs a run or two, the last one starting after the latest time asked', async () => {
  const starts: number[] = [];
  const p = new Periodic(3_600_000, async () => {
    starts.push(Date.now());
  }, 'test', (err) => assert.fail(String(err)));
  try {
    await p.start();
    starts.length = 0;
    const t0 = Date.now();
    for (const ms of [50, 60, 50, 80, 150]) p.by(t0 + ms);
    await eventually(() => starts.some((at) => at >= t0 + 150), 'a run at or after the latest time asked');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // two when the first timer fires before the latest time asked; one when a busy machine fires it after
    assert.ok(starts.length === 1 || starts.length === 2, JSON.stringify(starts.map((at) => at - t0)));
    assert.ok(starts[0]! >= t0 + 50, 'not before the earliest time asked');
    // an ask the last run already covers makes none; a later one makes one more
    const made = starts.length;
    p.by(starts[made - 1]! - 10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(starts.length, made);
    const asked = Date.now() + 20;
    p.by(asked);
    await eventually(() => starts.length > made, 'one more run');
    assert.equal(starts.length, made + 1);
    assert.ok(starts[made]! >= asked);
  } finally {
    await p.stop();
  }
});
