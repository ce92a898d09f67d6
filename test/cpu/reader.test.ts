// CpuThrottleReader over fixture trees: every layout (v2 and v1, systemd and cgroupfs drivers, a hybrid host), deltas
// (priming, resets, counters first seen), throttling at the pod's level and at a container's, and what the kernel
// may hand it: a malformed line, an unreadable file, a cgroup that goes away mid-read, no cpu controller at all.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { findPodCgroups, type CgroupDriver } from '../../src/cpu/layout';
import { CpuThrottleReader } from '../../src/cpu/reader';
import type { CpuThrottleObservation } from '../../src/observe/cpu';
import type { PodRef } from '../../src/observe/objects';
import { containerCgroupName, containerId, FixtureTree, type FixtureCounters, type TreeOptions } from './fixture-tree';
import { podCgroupPath } from './fixture-tree';

interface LogLine { level: number; msg: string; cgroup?: string }

function capture(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { logger: pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) }), lines };
}

const WARN = 40;

/** A reader that runs only when told (read()), and everything it emitted. */
function reader(root: string, podByUid?: (uid: string) => PodRef | undefined, cgroupRoot?: string) {
  const { logger, lines } = capture();
  const r = new CpuThrottleReader({ intervalMs: 3_600_000, root, cgroupRoot, podByUid, logger });
  const seen: CpuThrottleObservation[][] = [];
  r.onObservations((items) => seen.push(items));
  /** one read, and what it emitted */
  const next = async () => {
    const before = seen.length;
    await r.read();
    return seen.length > before ? (seen[seen.length - 1] as CpuThrottleObservation[]) : [];
  };
  return { r, lines, next };
}

const add = (c: FixtureCounters, d: Partial<FixtureCounters>): FixtureCounters => ({
  periods: c.periods + (d.periods ?? 0),
  throttled: c.throttled + (d.throttled ?? 0),
  throttledUs: c.throttledUs + (d.throttledUs ?? 0),
  usageUs: c.usageUs + (d.usageUs ?? 0),
  ...(c.pressureUs !== undefined ? { pressureUs: c.pressureUs + (d.pressureUs ?? 0) } : {}),
});

const BASE: FixtureCounters = { periods: 1000, throttled: 10, throttledUs: 5_000_000, usageUs: 9_000_000, pressureUs: 1_000_000 };

const LAYOUTS: { name: string; tree: TreeOptions; driver: CgroupDriver; pressure: boolean }[] = [
  { name: 'cgroup v2, systemd driver', tree: { version: 2 }, driver: 'systemd', pressure: true },
  { name: 'cgroup v2, cgroupfs driver', tree: { version: 2 }, driver: 'cgroupfs', pressure: true },
  { name: 'cgroup v1 cpu,cpuacct, systemd driver', tree: { version: 1 }, driver: 'systemd', pressure: false },
  { name: 'cgroup v1 cpu,cpuacct, cgroupfs driver', tree: { version: 1 }, driver: 'cgroupfs', pressure: false },
  { name: 'hybrid: v1 cpu and cpuacct apart, unified PSI, systemd driver', tree: { version: 1, v1Split: true, hybrid: true }, driver: 'systemd', pressure: true },
  { name: 'hybrid: v1 cpu and cpuacct apart, unified PSI, cgroupfs driver', tree: { version: 1, v1Split: true, hybrid: true }, driver: 'cgroupfs', pressure: true },
];

for (const layout of LAYOUTS) {
  test(`throttled pods, by their own quota or a container's: ${layout.name}`, async (t) => {
    const tree = new FixtureTree(layout.tree);
    t.after(() => tree.destroy());
    const base = layout.pressure ? BASE : { ...BASE, pressureUs: undefined };
    const cgroup = (qos: 'guaranteed' | 'burstable' | 'besteffort', uid: string, cid?: string) => {
      const pod = podCgroupPath(layout.driver, qos, uid);
      return cid ? path.join(pod, containerCgroupName(layout.driver, cid)) : pod;
    };
    const [g, b, e] = [randomUUID(), randomUUID(), randomUUID()];
    const [gApp, bPause, bApp, eApp, eLate] = [containerId(), containerId(), containerId(), containerId(), containerId()];
    const counters = new Map<string, FixtureCounters>();
    const set = (rel: string, c: FixtureCounters) => {
      counters.set(rel, c);
      tree.set(rel, c);
    };
    const bump = (rel: string, d: Partial<FixtureCounters>) => set(rel, add(counters.get(rel) as FixtureCounters, d));
    for (const rel of [cgroup('guaranteed', g), cgroup('guaranteed', g, gApp), cgroup('burstable', b), cgroup('burstable', b, bPause),
      cgroup('burstable', b, bApp), cgroup('besteffort', e), cgroup('besteffort', e, eApp)]) set(rel, base);

    const pods = new Map<string, PodRef>([[g, { namespace: 'shop', name: 'web-0' }]]);
    const { r, lines, next } = reader(tree.root, (uid) => pods.get(uid));
    await r.start();
    assert.deepEqual(await next(), [], 'the first read primes');
    assert.equal(r.hierarchy()?.version, layout.tree.version);

    // g: its pod-level quota throttles it; b: its app container's quota (the pod's cgroup is never throttled);
    // e: uses CPU without a quota
    bump(cgroup('guaranteed', g), { periods: 50, throttled: 40, throttledUs: 800_000, usageUs: 500_000, pressureUs: 300_000 });
    bump(cgroup('guaranteed', g, gApp), { periods: 50, throttled: 2, throttledUs: 1_000, usageUs: 500_000 });
    bump(cgroup('burstable', b), { periods: 50, usageUs: 20_000 });
    bump(cgroup('burstable', b, bApp), { periods: 50, throttled: 20, throttledUs: 150_000, usageUs: 20_000 });
    bump(cgroup('besteffort', e), { usageUs: 1_000_000 });
    bump(cgroup('besteffort', e, eApp), { usageUs: 1_000_000 });
    const obs = (await next()).sort((x, y) => (x.uid === g ? -1 : y.uid === g ? 1 : 0));
    assert.equal(obs.length, 2, 'e was not throttled');
    const [og, ob] = obs as [CpuThrottleObservation, CpuThrottleObservation];
    assert.ok(og.since > 0 && og.since <= og.at && ob.at === og.at);
    const pressure = layout.pressure ? { pressureSomeMs: 300, pressureSomeAvg10: 1.25 } : {};
    assert.deepEqual({ ...og, at: 0, since: 0 }, {
      at: 0, since: 0, pod: { namespace: 'shop', name: 'web-0' }, uid: g, throttledIn: 'pod',
      periods: 50, throttledPeriods: 40, throttledMs: 800, usageMs: 500, ...pressure,
      containers: [{ id: gApp, periods: 50, throttledPeriods: 2, throttledMs: 1 }],
    });
    assert.deepEqual({ ...ob, at: 0, since: 0 }, {
      at: 0, since: 0, pod: undefined, uid: b, throttledIn: bApp,
      periods: 50, throttledPeriods: 20, throttledMs: 150, usageMs: 20, ...(layout.pressure ? { pressureSomeMs: 0, pressureSomeAvg10: 1.25 } : {}),
      containers: [{ id: bApp, periods: 50, throttledPeriods: 20, throttledMs: 150 }],
    });
    assert.deepEqual(await next(), [], 'nothing changed');

    // g's cgroup recreated (its counters start again); a container of e that was not there before counts from zero
    set(cgroup('guaranteed', g), { periods: 5, throttled: 3, throttledUs: 30_000, usageUs: 40_000, ...(layout.pressure ? { pressureUs: 100 } : {}) });
    set(cgroup('besteffort', e, eLate), { periods: 10, throttled: 4, throttledUs: 40_000, usageUs: 60_000 });
    const again = await next();
    assert.deepEqual(again.map((o) => [o.uid, o.throttledIn, o.periods, o.throttledPeriods, o.throttledMs]).sort(),
      [[g, 'pod', 5, 3, 30], [e, eLate, 10, 4, 40]].sort());
    assert.equal(again.find((o) => o.uid === g)?.usageMs, 40);
    assert.deepEqual(r.stats(), [{ source: 'cpu_throttling', up: true, reason: '', errors: 0, eventsLost: 0, rateLimited: 0 }]);
    assert.deepEqual(lines.filter((l) => l.level >= WARN), []);
    assert.deepEqual({ ...r.lastRead(), ms: 0, cpuMs: 0 }, { pods: 3, cgroups: 8, vanished: 0, errors: 0, ms: 0, cpuMs: 0 });
    await r.stop();
    assert.equal(r.stats()[0]?.reason, 'stopped');
  });
}

test('a malformed line, an unreadable file, a cgroup gone mid-read: counted, logged once, never a crash', async (t) => {
  const tree = new FixtureTree({ version: 1, v1Split: true, hybrid: true });
  t.after(() => tree.destroy());
  const uids = Array.from({ length: 60 }, () => randomUUID());
  const pod = (i: number) => podCgroupPath('cgroupfs', 'burstable', uids[i] as string);
  for (let i = 0; i < uids.length; i++) tree.set(path.join(pod(i), containerId()), BASE);
  for (let i = 0; i < uids.length; i++) tree.set(pod(i), BASE);
  tree.setRaw(pod(0), 'cpu.stat', 'nr_periods 10\nnr_throttled x\nthrottled_time 0\n');
  tree.setRaw(pod(1), 'cpuacct.usage', 'abc\n');
  fs.rmSync(path.join(tree.cpu, pod(2), 'cpu.stat'));
  fs.symlinkSync('cpu.stat', path.join(tree.cpu, pod(2), 'cpu.stat')); // a loop: open() fails with ELOOP
  tree.setRaw(pod(3), 'cpu.pressure', 'some avg10=oops\n');

  const { r, lines, next } = reader(tree.root);
  await r.start();
  const warnings = () => lines.filter((l) => l.level >= WARN);
  assert.deepEqual(warnings().map((l) => [l.cgroup, l.msg.replace(/:.*/s, '')]).sort(), [
    [path.join(pod(0), 'cpu.stat'), 'out of shape'], [path.join(pod(1), 'cpuacct.usage'), 'out of shape'],
    [path.join(pod(2), 'cpu.stat'), 'unreadable'], [path.join(pod(3), 'cpu.pressure'), 'out of shape'],
  ].sort());
  assert.equal(r.stats()[0]?.errors, 4);
  await next();
  assert.equal(r.stats()[0]?.errors, 8, 'counted at every read');
  assert.equal(warnings().length, 4, 'logged once while the problem lasts');
  assert.equal(r.stats()[0]?.up, true);

  // two pods throttled; the one listed last goes away while the reader gives the event loop its turn (after 50 pods)
  const broken = [0, 1, 2, 3].map(pod);
  const order = findPodCgroups(tree.cpu, '', { vanished: assert.fail, failed: assert.fail }).pods.map((p) => p.path).filter((p) => !broken.includes(p));
  const [gone, stays] = [order[order.length - 1] as string, order[0] as string];
  tree.set(stays, add(BASE, { periods: 10, throttled: 5, throttledUs: 50_000 }));
  tree.set(gone, add(BASE, { periods: 10, throttled: 5, throttledUs: 50_000 }));
  const reading = next();
  setImmediate(() => tree.remove(gone));
  const obs = await reading;
  assert.deepEqual(obs.map((o) => o.uid), [path.basename(stays).slice('pod'.length)]);
  assert.equal(r.lastRead().vanished, 2, 'the pod cgroup and its container');
  assert.equal(r.lastRead().errors, 4);
  assert.ok(lines.some((l) => l.msg.startsWith('a cgroup went away') && l.cgroup === path.join(gone, 'cpu.stat')));

  // fixed, then broken again: logged again. Read at last, its counters prime: they cover the cgroup's whole life.
  tree.set(pod(0), BASE);
  assert.deepEqual(await next(), []);
  assert.equal(r.lastRead().errors, 3);
  tree.setRaw(pod(0), 'cpu.stat', 'nr_periods\n');
  await next();
  assert.equal(warnings().length, 5);
  assert.deepEqual(await next(), []);
  await r.stop();
});

test('no cpu controller, a missing --cgroup-root, no kubepods: down or idle with the reason, up once it is there', async (t) => {
  const tree = new FixtureTree({ version: 2 });
  t.after(() => tree.destroy());
  fs.writeFileSync(path.join(tree.root, 'cgroup.controllers'), 'memory pids\n');
  const { r } = reader(tree.root);
  await r.start();
  assert.deepEqual(r.stats()[0], {
    source: 'cpu_throttling', up: false, errors: 1, eventsLost: 0, rateLimited: 0,
    reason: `cannot read cgroups: cgroup v2 at ${tree.root} lists no cpu controller (cgroup.controllers: "memory pids")`,
  });
  fs.writeFileSync(path.join(tree.root, 'cgroup.controllers'), 'cpu memory pids\n');
  await r.read();
  assert.equal(r.stats()[0]?.up, true);
  assert.match(r.stats()[0]?.reason ?? '', /^no kubepods cgroup under /);

  const missing = reader(tree.root, undefined, 'kubelet.slice');
  await missing.r.start();
  assert.equal(missing.r.stats()[0]?.up, false);
  assert.match(missing.r.stats()[0]?.reason ?? '', /cannot read cgroups: ENOENT/);

  assert.throws(() => reader(tree.root, undefined, '../elsewhere'), /cgroup root must stay inside the hierarchy/);
});
