// CPU throttling: one interval's read of 500 pods' cgroups (a sandbox and an app container each: 1,500 cgroups) by
// CpuThrottleReader, beside what a user might run instead, `cat` of every cpu.stat found by find(1). Trees: fixtures
// on tmpfs for cgroup v2 (systemd driver) and v1 as this host mounts it (cpu and cpuacct apart, a unified beside,
// cgroupfs driver), and this host's own cgroup v1 cpu and cpuacct hierarchies (kernfs, the kernel printing each file).
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { CpuThrottleReader } from '../src/cpu/reader';
import { containerCgroupName, containerId, FixtureTree, podCgroupPath, type FixtureCounters, type TreeOptions } from '../test/cpu/fixture-tree';
import { cpuQuotaSkip, KubeletCgroups } from '../test/lab/cpu-quota';
import type { CgroupDriver } from '../src/cpu/layout';
import type { Bench } from './types';

const PODS = 500;
const THROTTLED = 50; // pods whose app container is throttled in each interval (fixtures)
const READS = 20;
const CAT_BATCHED_RUNS = 5;
const CAT_EACH_RUNS = 3;
// The cost in proportion: a read every 5 s (the listen-overflow scan's pace) may take 2% of a core, for 500 pods,
// beyond kubelet's default limit of 110.
const INTERVAL_MS = 5_000;
const CORE_SHARE = 0.02;
const TMPFS = '/dev/shm';

interface Tree {
  name: string;
  root: string;
  cgroupRoot: string;
  /** where find(1) starts: the kubepods cgroup in the hierarchy holding cpu.stat */
  kubepods: string;
  /** between reads, outside the timing: some pods' counters move */
  churn?: () => void;
  destroy: () => Promise<void>;
}

function fixture(name: string, opts: TreeOptions, driver: CgroupDriver): Tree {
  const tree = new FixtureTree(opts, fs.existsSync(TMPFS) ? TMPFS : undefined);
  const base: FixtureCounters = { periods: 1000, throttled: 10, throttledUs: 5_000_000, usageUs: 9_000_000, pressureUs: 1_000_000 };
  const apps: { rel: string; c: FixtureCounters }[] = [];
  for (let i = 0; i < PODS; i++) {
    const pod = podCgroupPath(driver, 'burstable', randomUUID());
    tree.set(pod, base);
    tree.set(path.join(pod, containerCgroupName(driver, containerId())), base);
    const app = { rel: path.join(pod, containerCgroupName(driver, containerId())), c: { ...base } };
    tree.set(app.rel, app.c);
    apps.push(app);
  }
  let turn = 0;
  const churn = () => {
    for (let k = 0; k < THROTTLED; k++) {
      const app = apps[(turn * THROTTLED + k) % PODS] as { rel: string; c: FixtureCounters };
      app.c = { ...app.c, periods: app.c.periods + 100, throttled: app.c.throttled + 40, throttledUs: app.c.throttledUs + 900_000 };
      tree.set(app.rel, app.c);
    }
    turn++;
  };
  const kubepods = path.join(tree.cpu, driver === 'systemd' ? 'kubepods.slice' : 'kubepods');
  return { name, root: tree.root, cgroupRoot: '', kubepods, churn, destroy: async () => tree.destroy() };
}

async function host(): Promise<Tree> {
  const cgroups = await KubeletCgroups.create();
  try {
    for (let i = 0; i < PODS; i++) await cgroups.addPod([], { quotaUs: 50_000 });
  } catch (err) {
    await cgroups.destroy();
    throw err;
  }
  return {
    name: 'this host: cgroup v1 cpu + cpuacct, cgroupfs driver (kernfs)',
    root: cgroups.root,
    cgroupRoot: cgroups.cgroupRoot,
    kubepods: path.join(cgroups.root, 'cpu', cgroups.cgroupRoot, 'kubepods'),
    destroy: () => cgroups.destroy(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (x: number) => x.toFixed(1);
const us = (x: number) => x.toFixed(0);

interface Timing { wallMs: number; cpuMs: number }

async function readerRuns(tree: Tree): Promise<{ runs: Timing[]; cgroups: number; observed: number; errors: number }> {
  const reader = new CpuThrottleReader({ intervalMs: 3_600_000, root: tree.root, cgroupRoot: tree.cgroupRoot, logger: pino({ level: 'silent' }) });
  let observed = 0;
  reader.onObservations((items) => (observed += items.length));
  await reader.start();
  const runs: Timing[] = [];
  for (let i = 0; i < READS; i++) {
    tree.churn?.();
    await reader.read();
    runs.push({ wallMs: reader.lastRead().ms, cpuMs: reader.lastRead().cpuMs });
  }
  const { cgroups, errors } = reader.lastRead();
  await reader.stop();
  return { runs, cgroups, observed, errors };
}

/** CPU time of this process's reaped children (cutime + cstime of /proc/self/stat, in ticks of 10 ms). */
function childrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}

/** A shell's way: find every cpu.stat and cat it, one cat per file (`\;`) or as few as the arguments allow (`+`). */
function catRuns(tree: Tree, each: boolean, n: number): Timing[] {
  const runs: Timing[] = [];
  for (let i = 0; i < n; i++) {
    const cpu0 = childrenCpuMs();
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', `find "$1" -name cpu.stat -exec cat {} ${each ? '\\;' : '+'} > /dev/null`, 'sh', tree.kubepods], { stdio: 'inherit' });
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`find | cat failed: ${r.status}`);
    runs.push({ wallMs, cpuMs: childrenCpuMs() - cpu0 });
  }
  return runs;
}

export async function cpuBench(): Promise<Bench> {
  const rows: string[][] = [];
  const floors: Bench['floors'] = [];
  const notes: string[] = [];
  const trees: (() => Promise<Tree>)[] = [
    async () => fixture('fixture: cgroup v2, systemd driver (tmpfs)', { version: 2 }, 'systemd'),
    async () => fixture('fixture: cgroup v1 apart + unified, cgroupfs driver (tmpfs)', { version: 1, v1Split: true, hybrid: true }, 'cgroupfs'),
  ];
  if (cpuQuotaSkip) notes.push(`this host's own hierarchy not measured: ${cpuQuotaSkip}`);
  else trees.push(host);
  for (const make of trees) {
    const tree = await make();
    try {
      const r = await readerRuns(tree);
      const wall = median(r.runs.map((x) => x.wallMs));
      const cpu = median(r.runs.map((x) => x.cpuMs));
      rows.push([tree.name, 'flapwatch CpuThrottleReader.read()', ms(wall), us((wall * 1000) / PODS), ms(cpu), String(r.cgroups)]);
      if (r.cgroups !== PODS * 3 || r.errors !== 0) throw new Error(`${tree.name}: read ${r.cgroups} cgroups with ${r.errors} errors`);
      if (tree.churn && r.observed !== READS * THROTTLED) throw new Error(`${tree.name}: ${r.observed} observations, expected ${READS * THROTTLED}`);
      const budget = INTERVAL_MS * CORE_SHARE;
      floors.push({ what: `${tree.name}: CPU per read ≤ ${CORE_SHARE * 100}% of a core at a read every ${INTERVAL_MS / 1000} s (${budget} ms)`, ok: cpu <= budget, value: `${ms(cpu)} ms` });
      for (const [each, n, label] of [[false, CAT_BATCHED_RUNS, '`find … -name cpu.stat -exec cat {} +`'], [true, CAT_EACH_RUNS, '`find … -name cpu.stat -exec cat {} \\;` (a cat per file)']] as const) {
        const runs = catRuns(tree, each, n);
        const w = median(runs.map((x) => x.wallMs));
        rows.push([tree.name, label, ms(w), us((w * 1000) / PODS), ms(median(runs.map((x) => x.cpuMs))), String(PODS * 3)]);
      }
    } finally {
      await tree.destroy();
    }
  }
  notes.push(
    `${PODS} pods of a sandbox and an app container each; flapwatch reads cpu.stat of all ${PODS * 3} cgroups, cpuacct.usage (v1) and cpu.pressure of each pod, lists the tree, computes deltas; in the fixtures ${THROTTLED} pods are throttled in every interval, so each read emits ${THROTTLED} observations`,
    'the cat variants read cpu.stat only, and parse nothing; their CPU is the children\'s (find, sh, cat)',
    `medians: flapwatch of ${READS} reads after the priming one, the batched cat of ${CAT_BATCHED_RUNS} runs, the cat per file of ${CAT_EACH_RUNS}`,
    'systemd-cgtop is left out: it walks the name=systemd hierarchy, which holds none of these trees, and reports usage, not throttling',
    `load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine slows every row alike)`,
  );
  return {
    title: `CPU throttling: one read of ${PODS} pods' cgroups per interval`,
    header: ['tree', 'read', 'per interval, ms (median)', 'per pod, µs', 'CPU per interval, ms', 'cgroups'],
    rows,
    floors,
    notes,
  };
}
