// The reader on this machine's own cgroup v1 cpu controller: a busy process in a kubelet-shaped pod cgroup with a CFS
// quota of 10 ms per 100 ms is throttled for real, and the reader says so for that pod's UID; a sleeping pod beside
// it under the same quota is not reported. Everything made is removed (processes killed, cgroups rmdir'ed).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { CpuThrottleReader } from '../../src/cpu/reader';
import type { CpuThrottleObservation } from '../../src/observe/cpu';
import { eventually } from '../helpers/env';
import { cpuQuotaSkip, KubeletCgroups } from '../lab/cpu-quota';

function start(cmd: string, args: string[]): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

test('a busy process under a CFS quota in a pod cgroup: the reader reports its throttling by the pod\'s UID', { timeout: 60_000 }, async (t) => {
  if (cpuQuotaSkip) {
    t.skip(cpuQuotaSkip);
    return;
  }
  const busy = start('sh', ['-c', 'while :; do :; done']);
  const idle = start('sleep', ['600']);
  const cgroups = await KubeletCgroups.create();
  t.after(async () => {
    for (const p of [busy, idle]) p.child.kill('SIGKILL');
    await Promise.all([busy.exited, idle.exited]);
    await cgroups.destroy();
    for (const mount of ['cpu', 'cpuacct']) assert.equal(fs.existsSync(path.join('/sys/fs/cgroup', mount, cgroups.cgroupRoot)), false, `${mount} cgroups removed`);
  });
  const [busyUid, idleUid] = [randomUUID(), randomUUID()];
  const busyPod = await cgroups.addPod([busy.child.pid as number], { quotaUs: 10_000, periodUs: 100_000, uid: busyUid });
  await cgroups.addPod([idle.child.pid as number], { quotaUs: 10_000, periodUs: 100_000, uid: idleUid });
  assert.match(fs.readFileSync(`/proc/${busy.child.pid}/cgroup`, 'utf8'), new RegExp(`:cpu:/${cgroups.cgroupRoot}/kubepods/burstable/pod${busyUid}/${busyPod.containerId}`));

  const names = new Map<string, string>([[busyUid, 'busy'], [idleUid, 'idle']]);
  const reader = new CpuThrottleReader({
    intervalMs: 3_600_000, // read when told
    root: cgroups.root,
    cgroupRoot: cgroups.cgroupRoot,
    podByUid: (uid) => (names.has(uid) ? { namespace: 'lab', name: names.get(uid) as string } : undefined),
    logger: pino({ level: 'silent' }),
  });
  t.after(() => reader.stop());
  const seen: CpuThrottleObservation[] = [];
  reader.onObservations((items) => seen.push(...items));
  await reader.start();
  assert.equal(reader.hierarchy()?.version, 1);
  assert.deepEqual([reader.lastRead().pods, reader.lastRead().cgroups], [2, 6], 'two pods, each with its sandbox and a container');

  await eventually(async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await reader.read();
    return seen.some((o) => o.uid === busyUid);
  }, 'the busy pod throttled');
  const o = seen.find((x) => x.uid === busyUid) as CpuThrottleObservation;
  assert.deepEqual(o.pod, { namespace: 'lab', name: 'busy' });
  assert.ok(o.throttledPeriods > 0 && o.periods >= o.throttledPeriods, `periods ${o.periods}, throttled ${o.throttledPeriods}`);
  assert.ok(o.throttledMs > 0, `throttled ${o.throttledMs} ms`);
  assert.ok(o.usageMs > 0, `used ${o.usageMs} ms`);
  assert.ok(['pod', busyPod.containerId].includes(o.throttledIn), o.throttledIn);
  assert.equal(o.pressureSomeMs, undefined, 'a cgroupfs-driver tree in v1 only: no PSI for it in the hybrid\'s unified');
  assert.ok(o.since < o.at);
  assert.equal(seen.some((x) => x.uid === idleUid), false, 'the sleeping pod is never throttled');
  assert.deepEqual(reader.stats(), [{ source: 'cpu_throttling', up: true, reason: '', errors: 0, eventsLost: 0, rateLimited: 0 }]);
});
