// CPU quota for the lab: a kubelet-shaped cgroup tree (cgroupfs driver) under a test-owned --cgroup-root in the
// machine's cgroup v1 `cpu` and `cpuacct` hierarchies, each pod with a CFS quota on its cgroup and its container's,
// as kubelet and the runtime set them. Processes moved in are starved for real; undo moves them back to where they
// were and removes the cgroups. A tree left by a process that died is removed by the next KubeletCgroups.create().
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectHierarchy, type CpuHierarchy } from '../../src/cpu/layout';
import { DEFAULT_CGROUP_MOUNT } from '../../src/cpu/reader';
import type { Lab } from './lab';
import { isAlive, once, type Undo } from './registry';
import { run } from './netns';

const PREFIX = 'flapwatch-test-';

export interface QuotaOptions {
  /** cpu.cfs_quota_us of the pod and its container: CPU time per period (the kernel's least is 1000) */
  quotaUs: number;
  /** cpu.cfs_period_us; default 100000 (kubelet's) */
  periodUs?: number;
  /** default a random UUID */
  uid?: string;
}

export interface PodQuota {
  uid: string;
  /** the container the processes went into */
  containerId: string;
  /** the pod's sandbox (pause) container, empty, as runtimes make one */
  sandboxId: string;
  /** the pod's cgroup, relative to each hierarchy */
  podPath: string;
  undo: Undo;
}

function v1(): CpuHierarchy | string {
  const h = detectHierarchy(DEFAULT_CGROUP_MOUNT);
  if (typeof h === 'string') return h;
  if (h.version !== 1 || !h.cpuacct) return `needs the cgroup v1 cpu and cpuacct controllers; this host has cgroup v${h.version} with cpu`;
  return h;
}

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create cgroups';
  const h = v1();
  return typeof h === 'string' ? h : undefined;
}

/** undefined when quota cgroups can be made here; otherwise the reason to give t.skip(). */
export const cpuQuotaSkip: string | undefined = unavailable();

/** The v1 cgroup of `pid` in the hierarchy with `controller`, from /proc/PID/cgroup (`N:cpu,cpuacct:/path`). */
function cgroupOf(pid: number, controller: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  for (const line of text.split('\n')) {
    const [, controllers = '', where = ''] = line.split(':');
    if (controllers.split(',').includes(controller)) return where;
  }
  throw new Error(`pid ${pid} is in no ${controller} cgroup`);
}

function procsOf(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // gone already
  }
}

/** Moves `pid` into the cgroup at dir; a process that exited meanwhile is no error. */
function moveInto(dir: string, pid: number): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

// A cgroup whose last task just exited may refuse rmdir for a moment (EBUSY) while the task is torn down.
async function removeTree(mount: string, rel: string, home: (pid: number) => string): Promise<void> {
  const dir = path.join(mount, rel);
  if (!fs.existsSync(dir)) return;
  for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
    if (child.isDirectory()) await removeTree(mount, path.join(rel, child.name), home);
  }
  for (const pid of procsOf(dir)) moveInto(path.join(mount, home(pid)), pid);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt === 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A test-owned --cgroup-root (`flapwatch-test-<pid>-<hex>`) in the v1 cpu and cpuacct hierarchies. */
export class KubeletCgroups {
  /** the mount the reader takes as its root */
  readonly root = DEFAULT_CGROUP_MOUNT;
  /** the reader's cgroupRoot: kubelet's --cgroup-root */
  readonly cgroupRoot = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  /** where each moved process came from, per hierarchy, to put it back */
  private readonly homes = new Map<string, Map<number, string>>();

  private constructor(private readonly hier: CpuHierarchy & { cpuacct: string }) {}

  static async create(): Promise<KubeletCgroups> {
    const h = v1();
    if (typeof h === 'string') throw new Error(`KubeletCgroups: ${h}`);
    const cgroups = new KubeletCgroups(h as CpuHierarchy & { cpuacct: string });
    await cgroups.sweepStale();
    for (const mount of cgroups.mounts()) fs.mkdirSync(path.join(mount, cgroups.cgroupRoot));
    return cgroups;
  }

  /**
   * A burstable pod `kubepods/burstable/pod<uid>/<container id>` with the quota on the pod and the container,
   * `pids` moved into the container, and an empty sandbox container beside. Undo puts them back where they were
   * and removes the pod's cgroups.
   */
  async addPod(pids: readonly number[], opts: QuotaOptions): Promise<PodQuota> {
    const uid = opts.uid ?? randomUUID();
    const [containerId, sandboxId] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
    const podPath = path.join(this.cgroupRoot, 'kubepods', 'burstable', `pod${uid}`);
    const container = path.join(podPath, containerId);
    for (const mount of this.mounts()) {
      for (const id of [containerId, sandboxId]) fs.mkdirSync(path.join(mount, podPath, id), { recursive: true });
    }
    // the pod first: a v1 child's quota may not exceed its parent's
    for (const rel of [podPath, container]) {
      const dir = path.join(this.hier.cpu, rel);
      fs.writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(opts.periodUs ?? 100_000));
      fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(opts.quotaUs));
    }
    for (const [mount, controller] of [[this.hier.cpu, 'cpu'], [this.hier.cpuacct, 'cpuacct']] as const) {
      const homes = this.homesOf(mount);
      for (const pid of pids) {
        const home = homes.get(pid) ?? cgroupOf(pid, controller);
        if (home === undefined) continue; // exited meanwhile
        homes.set(pid, home);
        moveInto(path.join(mount, container), pid);
      }
    }
    return { uid, containerId, sandboxId, podPath, undo: once(() => this.removePod(podPath)) };
  }

  /** Every pod's processes put back, every cgroup removed. */
  async destroy(): Promise<void> {
    for (const mount of this.mounts()) await removeTree(mount, this.cgroupRoot, (pid) => this.home(mount, pid));
  }

  private async removePod(podPath: string): Promise<void> {
    for (const mount of this.mounts()) await removeTree(mount, podPath, (pid) => this.home(mount, pid));
  }

  private mounts(): string[] {
    return [...new Set([this.hier.cpu, this.hier.cpuacct])];
  }

  private homesOf(mount: string): Map<number, string> {
    let homes = this.homes.get(mount);
    if (!homes) this.homes.set(mount, (homes = new Map()));
    return homes;
  }

  /** Where a process goes back to: where it came from, or the hierarchy's root for one that came in on its own. */
  private home(mount: string, pid: number): string {
    return this.homes.get(mount)?.get(pid) ?? '/';
  }

  /** Trees of test processes that died before their undo ran. */
  private async sweepStale(): Promise<void> {
    for (const mount of this.mounts()) {
      for (const name of fs.readdirSync(mount)) {
        const owner = name.startsWith(PREFIX) ? Number(name.slice(PREFIX.length).split('-')[0]) : NaN;
        if (Number.isInteger(owner) && !isAlive(owner)) await removeTree(mount, name, () => '/');
      }
    }
  }
}

export interface StarvedPod extends PodQuota {
  /** the reader's root and cgroupRoot to find the pod */
  root: string;
  cgroupRoot: string;
}

/**
 * Puts the processes of a lab pod (those in its network namespace: its server) into a quota cgroup of its own,
 * so that a /health that needs CPU answers late. Undo puts them back and removes the cgroups: the pod's alone when
 * the tree was given (a daemon reading it already knows its --cgroup-root), the whole tree otherwise.
 */
export async function starveLabPod(lab: Lab, podIndex: number, opts: QuotaOptions, tree?: KubeletCgroups): Promise<StarvedPod> {
  const ns = lab.pods[podIndex];
  if (ns === undefined) throw new Error(`starveLabPod: no pod ${podIndex}`);
  const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
  if (pids.length === 0) throw new Error(`starveLabPod: nothing runs in ${ns}`);
  const cgroups = tree ?? await KubeletCgroups.create();
  const destroy = () => (tree ? Promise.resolve() : cgroups.destroy());
  try {
    const pod = await cgroups.addPod(pids, opts);
    return { ...pod, root: cgroups.root, cgroupRoot: cgroups.cgroupRoot, undo: once(() => pod.undo().then(destroy)) };
  } catch (err) {
    await destroy();
    throw err;
  }
}
