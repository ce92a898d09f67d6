// A lab pod starved of CPU for real: its /health spends 100 ms of CPU time, which it does inside a probe's 3 s timeout
// on its own, and cannot under a quota of 1 ms per 100 ms (at least 10 s of periods): the probe times out. The reader
// reports the pod's throttling by its UID; undone, /health answers again and the cgroups are gone.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { CpuThrottleReader } from '../../src/cpu/reader';
import type { CpuThrottleObservation } from '../../src/observe/cpu';
import { kernelSkip } from '../helpers/env';
import { cpuQuotaSkip, starveLabPod } from './cpu-quota';
import { Lab } from './lab';

const PROBE_TIMEOUT_MS = 3000;
const HEALTH_CPU_MS = 100;

test('a lab pod under a tight CPU quota answers /health after the probe\'s timeout, and in time without it', { timeout: 120_000 }, async (t) => {
  const skip = kernelSkip ?? cpuQuotaSkip;
  if (skip) {
    t.skip(skip);
    return;
  }
  const lab = await Lab.create({ pods: 1 });
  t.after(() => lab.destroy());
  await lab.slowHealth(0, HEALTH_CPU_MS);
  const probe = () => lab.httpGet(lab.node, lab.podIp(0), lab.podPort, '/health', PROBE_TIMEOUT_MS);

  assert.equal((await probe()).status, 200, 'unstarved, /health answers within the timeout');

  const starved = await starveLabPod(lab, 0, { quotaUs: 1000, periodUs: 100_000 });
  t.after(() => starved.undo());
  const reader = new CpuThrottleReader({
    intervalMs: 3_600_000, // read when told
    root: starved.root,
    cgroupRoot: starved.cgroupRoot,
    podByUid: (uid) => (uid === starved.uid ? { namespace: 'default', name: lab.pods[0] as string } : undefined),
    logger: pino({ level: 'silent' }),
  });
  t.after(() => reader.stop());
  const seen: CpuThrottleObservation[] = [];
  reader.onObservations((items) => seen.push(...items));
  await reader.start();

  const late = await probe();
  assert.equal(late.error, 'ETIMEDOUT', `starved, /health must miss the probe's timeout: ${JSON.stringify(late)}`);
  await reader.read();
  const o = seen.find((x) => x.uid === starved.uid);
  assert.ok(o, 'the reader saw the pod throttled');
  assert.deepEqual(o.pod, { namespace: 'default', name: lab.pods[0] });
  assert.ok(o.throttledPeriods > 0 && o.throttledMs > 0, JSON.stringify(o));

  await starved.undo();
  for (const mount of ['cpu', 'cpuacct']) assert.equal(fs.existsSync(path.join(starved.root, mount, starved.cgroupRoot)), false, `${mount} cgroups removed`);
  assert.equal((await probe()).status, 200, 'the quota undone, /health answers in time again');
});
