// Cgroup trees as a host mounts them, written into a temporary directory: cgroup v2 (unified, with PSI) or v1 (the
// cpu controller with cpuacct co-mounted, or each on its own as on this machine, a hybrid's `unified` beside them),
// with pods named the way kubelet names them under either driver. Counters are written as the kernel prints them.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CgroupDriver, QosTier } from '../../src/cpu/layout';

export type Runtime = 'cri-containerd' | 'crio' | 'docker';

export interface FixtureCounters {
  periods: number;
  throttled: number;
  throttledUs: number;
  usageUs: number;
  /** PSI some total, µs (v2, and a hybrid's unified tree) */
  pressureUs?: number;
}

export interface TreeOptions {
  version: 1 | 2;
  /** v1: cpu and cpuacct mounted apart (this machine) rather than as `cpu,cpuacct` */
  v1Split?: boolean;
  /** v1: a cgroup2 `unified` mount beside, without controllers, holding cpu.pressure (a hybrid host) */
  hybrid?: boolean;
}

/**
 * kubelet's name for a pod's cgroup (CgroupName.ToCgroupfs / ToSystemd): components {root…, kubepods, [qos],
 * pod<uid>}; systemd escapes '-' as '_' and nests each prefix as a slice. `cgroupRoot` is kubelet's --cgroup-root
 * (for systemd a slice such as "foo.slice").
 */
export function podCgroupPath(driver: CgroupDriver, qos: QosTier, uid: string, cgroupRoot = ''): string {
  const parts = ['kubepods', ...(qos === 'guaranteed' ? [] : [qos]), `pod${uid}`];
  if (driver === 'cgroupfs') return path.join(cgroupRoot, ...parts);
  const prefix = cgroupRoot ? [path.basename(cgroupRoot, '.slice')] : [];
  const names = [...prefix, ...parts].map((p) => p.replace(/-/g, '_'));
  const slices = names.map((_, i) => `${names.slice(0, i + 1).join('-')}.slice`);
  return path.join(cgroupRoot, ...slices.slice(prefix.length));
}

/** The runtime's cgroup for a container: its ID under cgroupfs, `<prefix>-<id>.scope` under systemd. */
export function containerCgroupName(driver: CgroupDriver, id: string, runtime: Runtime = 'cri-containerd'): string {
  return driver === 'cgroupfs' ? id : `${runtime}-${id}.scope`;
}

export function containerId(): string {
  return randomBytes(32).toString('hex');
}

export class FixtureTree {
  readonly root: string;

  constructor(readonly opts: TreeOptions, base = os.tmpdir()) {
    this.root = fs.mkdtempSync(path.join(base, 'flapwatch-cgroups-'));
    if (opts.version === 2) {
      fs.writeFileSync(path.join(this.root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
      return;
    }
    for (const m of this.v1Mounts()) fs.mkdirSync(m);
    fs.writeFileSync(path.join(this.cpu, 'cpu.stat'), v1Stat({ periods: 0, throttled: 0, throttledUs: 0, usageUs: 0 }));
    fs.writeFileSync(path.join(this.cpuacct, 'cpuacct.usage'), '0\n');
    if (opts.hybrid) {
      fs.mkdirSync(path.join(this.root, 'unified'));
      fs.writeFileSync(path.join(this.root, 'unified', 'cgroup.controllers'), '');
    }
  }

  /** Where cpu.stat lives. */
  get cpu(): string {
    if (this.opts.version === 2) return this.root;
    return path.join(this.root, this.opts.v1Split ? 'cpu' : 'cpu,cpuacct');
  }

  private get cpuacct(): string {
    return this.opts.v1Split ? path.join(this.root, 'cpuacct') : this.cpu;
  }

  private get pressure(): string | undefined {
    if (this.opts.version === 2) return this.root;
    return this.opts.hybrid ? path.join(this.root, 'unified') : undefined;
  }

  private v1Mounts(): string[] {
    return [...new Set([this.cpu, this.cpuacct])];
  }

  /** Writes a cgroup's counters (relative path), making its directories in every hierarchy that holds them. */
  set(rel: string, c: FixtureCounters): void {
    if (this.opts.version === 2) {
      this.write(this.root, rel, 'cpu.stat', v2Stat(c));
    } else {
      this.write(this.cpu, rel, 'cpu.stat', v1Stat(c));
      this.write(this.cpuacct, rel, 'cpuacct.usage', `${c.usageUs * 1000}\n`);
    }
    if (this.pressure && c.pressureUs !== undefined) this.write(this.pressure, rel, 'cpu.pressure', pressure(c.pressureUs));
  }

  /** Any text in place of a cgroup file (`cpu.stat`, `cpuacct.usage`, `cpu.pressure`), in the hierarchy holding it. */
  setRaw(rel: string, file: string, text: string): void {
    const mount = file === 'cpuacct.usage' ? this.cpuacct : file === 'cpu.pressure' ? this.pressure : this.cpu;
    if (!mount) throw new Error(`FixtureTree: no hierarchy holds ${file} here`);
    this.write(mount, rel, file, text);
  }

  /** Removes a cgroup from every hierarchy, as the kernel does when its last task leaves and it is rmdir'ed. */
  remove(rel: string): void {
    for (const m of [this.cpu, this.cpuacct, this.pressure]) if (m) fs.rmSync(path.join(m, rel), { recursive: true, force: true });
  }

  destroy(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private write(mount: string, rel: string, file: string, text: string): void {
    fs.mkdirSync(path.join(mount, rel), { recursive: true });
    fs.writeFileSync(path.join(mount, rel, file), text);
  }
}

function v1Stat(c: FixtureCounters): string {
  return `nr_periods ${c.periods}\nnr_throttled ${c.throttled}\nthrottled_time ${c.throttledUs * 1000}\nnr_bursts 0\nburst_time 0\n`;
}

function v2Stat(c: FixtureCounters): string {
  const user = Math.floor(c.usageUs * 0.7);
  return [
    `usage_usec ${c.usageUs}`, `user_usec ${user}`, `system_usec ${c.usageUs - user}`, 'core_sched.force_idle_usec 0',
    `nr_periods ${c.periods}`, `nr_throttled ${c.throttled}`, `throttled_usec ${c.throttledUs}`, 'nr_bursts 0', 'burst_usec 0', '',
  ].join('\n');
}

function pressure(totalUs: number): string {
  return `some avg10=1.25 avg60=0.40 avg300=0.09 total=${totalUs}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`;
}
