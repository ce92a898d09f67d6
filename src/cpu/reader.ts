// CpuThrottleReader: a pod starved by its CFS quota answers its probe late and loses no packet, so the only witness is
// its cgroup's counters. Every interval it lists kubelet's pod cgroups (src/cpu/layout.ts), reads each pod's and each
// container's cpu.stat (plus cpuacct.usage on v1, cpu.pressure where the kernel keeps PSI), and reports the pods
// that were throttled, with the deltas, mapped from the cgroup's UID to the pod by the lookup it is given.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { CounterDeltas } from '../observe/deltas';
import { describe } from '../observe/errors';
import type { PodByUid } from '../health/pods';
import { PolledSource } from '../observe/polled-source';
import type { SourceStats } from '../observe/source';
import { detectHierarchy, findPodCgroups, type CpuHierarchy, type PodCgroup } from './layout';
import { cpuacctUsageUs, cpuStatV1, cpuStatV2, pressureSome, type CpuCounters } from './stat';
import type { ContainerThrottle, CpuThrottleObservation, ThrottleFigures } from '../observe/cpu';

export const DEFAULT_CGROUP_MOUNT = '/sys/fs/cgroup';

export interface CpuThrottleOptions {
  intervalMs: number;
  /** where the host's cgroup hierarchies are mounted (the DaemonSet mounts the host's read-only); default /sys/fs/cgroup */
  root?: string;
  /** kubelet's --cgroup-root, relative to each hierarchy; default '' (kubelet's default, the hierarchy's root) */
  cgroupRoot?: string;
  podByUid?: PodByUid;
  logger: Logger;
}

/** One read: what it found and what it cost. */
export interface CpuReadStats {
  pods: number;
  /** pod and container cgroups read */
  cgroups: number;
  /** cgroups that went away between listing and reading (a pod or container ending) */
  vanished: number;
  /** files or directories unreadable or out of shape */
  errors: number;
  /** wall time of the read */
  ms: number;
  /** CPU time it cost this process */
  cpuMs: number;
}

// Keys of the counters kept between reads: `<cgroup path>\t<field>`.
const PERIODS = 'p';
const THROTTLED = 't';
const THROTTLED_US = 'u';
const USAGE_US = 'c';
const PRESSURE_US = 's';
const FIELDS = [PERIODS, THROTTLED, THROTTLED_US, USAGE_US, PRESSURE_US];
// the event loop gets a turn after this many pods (each costs a few small file reads)
const PODS_PER_TURN = 50;
const NO_FILE = new Set(['ENOENT', 'ENODEV']);

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? '';
}

export class CpuThrottleReader extends PolledSource<CpuThrottleObservation> {
  private readonly root: string;
  private readonly cgroupRoot: string;
  private readonly deltas = new CounterDeltas();
  private hier: CpuHierarchy | undefined;
  private failure: string | undefined;
  /** why the source has nothing to read while up (no kubepods cgroup) */
  private idle = '';
  private lastAt = 0;
  private last: CpuReadStats = { pods: 0, cgroups: 0, vanished: 0, errors: 0, ms: 0, cpuMs: 0 };
  private round = { vanished: 0, errors: 0 };
  /** files and directories (relative) that logged a problem, with it: one line each until a round without it */
  private readonly warned = new Map<string, string>();
  private troubled = new Set<string>();
  /** pod cgroups without a readable cpu.pressure (a hybrid host's v1-only tree, PSI off) */
  private readonly noPressure = new Set<string>();
  /** cgroups listed at the previous read, and those read at least once since they were first listed */
  private listedBefore = new Set<string>();
  private counted = new Set<string>();

  constructor(private readonly opts: CpuThrottleOptions) {
    super(opts, 'cpu_throttling', 'CPU throttling');
    this.root = opts.root ?? DEFAULT_CGROUP_MOUNT;
    if ((opts.cgroupRoot ?? '').split('/').includes('..')) throw new Error(`cpu throttling: cgroup root must stay inside the hierarchy, got ${opts.cgroupRoot}`);
    this.cgroupRoot = path.posix.normalize(`/${opts.cgroupRoot ?? ''}`).slice(1);
  }

  /** The hierarchy being read, once found. */
  hierarchy(): CpuHierarchy | undefined {
    return this.hier;
  }

  lastRead(): CpuReadStats {
    return this.last;
  }

  stats(): SourceStats[] {
    const { isStarted, isStopped } = this.periodic;
    const up = isStarted && !isStopped && this.failure === undefined;
    const reason = isStopped ? 'stopped' : (this.failure ?? this.idle);
    return [{ source: 'cpu_throttling', up, reason, errors: this.errors, eventsLost: 0, rateLimited: 0 }];
  }

  protected async readOnce(): Promise<void> {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    this.round = { vanished: 0, errors: 0 };
    this.troubled = new Set();
    let pods: PodCgroup[] = [];
    try {
      pods = await this.readAll();
      if (this.failure !== undefined) this.log.info('reading CPU throttling again');
      this.failure = undefined;
    } catch (err) {
      this.errors++;
      this.round.errors++;
      const reason = `cannot read cgroups: ${describe(err)}`;
      if (this.failure !== reason) this.log.warn(reason);
      this.failure = reason;
    }
    for (const key of this.warned.keys()) if (!this.troubled.has(key)) this.warned.delete(key);
    const cpu = process.cpuUsage(cpu0);
    const cgroups = pods.reduce((n, p) => n + 1 + p.containers.length, 0);
    this.last = { pods: pods.length, cgroups, ...this.round, ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  /** One round: the pods listed, their counters read, deltas turned into observations. Throws when nothing can be listed. */
  private async readAll(): Promise<PodCgroup[]> {
    const hier = this.hierarchyOrThrow();
    const found = findPodCgroups(hier.cpu, this.cgroupRoot, {
      vanished: (rel) => this.vanished(rel),
      failed: (rel, err) => this.failed(rel, `cannot list: ${describe(err)}`),
    });
    this.idle = found.kubepods === 0 ? `no kubepods cgroup under ${path.join(hier.cpu, this.cgroupRoot)}: no pod runs here, or --cgroup-root differs` : '';
    const current = new Map<string, number>();
    const listed = new Set<string>();
    const read: string[] = [];
    const avg10 = new Map<string, number>();
    for (const [i, pod] of found.pods.entries()) {
      if (i > 0 && i % PODS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      listed.add(pod.path);
      const counters = this.counters(hier, pod.path, true);
      if (counters) read.push(keep(current, pod.path, counters));
      const some = this.pressure(hier, pod.path);
      if (some) {
        current.set(`${pod.path}\t${PRESSURE_US}`, some.totalUs);
        avg10.set(pod.path, some.avg10);
      }
      for (const c of pod.containers) {
        listed.add(c.path);
        const cc = this.counters(hier, c.path, false);
        if (cc) read.push(keep(current, c.path, cc));
      }
    }
    const at = Date.now();
    const since = this.lastAt;
    this.lastAt = at;
    // A cgroup listed but unread this time (vanishing, unreadable) keeps its counts: a later read compares with them.
    const deltas = this.deltas.update(current, (key) => listed.has(key.slice(0, key.lastIndexOf('\t'))));
    // The counters first read from a cgroup that was there before (unreadable until now) cover its whole life: they
    // prime. Only a new cgroup's count from zero.
    for (const p of read) {
      if (this.counted.has(p) || !this.listedBefore.has(p)) continue;
      for (const field of FIELDS) deltas.delete(`${p}\t${field}`);
    }
    for (const p of this.counted) if (!listed.has(p)) this.counted.delete(p);
    for (const p of read) this.counted.add(p);
    this.listedBefore = listed;
    for (const p of this.noPressure) if (!listed.has(p)) this.noPressure.delete(p);
    const out: CpuThrottleObservation[] = [];
    for (const pod of found.pods) {
      const obs = this.observe(pod, deltas, avg10.get(pod.path), at, since);
      if (obs) out.push(obs);
    }
    this.emit(out);
    return found.pods;
  }

  private hierarchyOrThrow(): CpuHierarchy {
    if (this.hier) return this.hier;
    const h = detectHierarchy(this.root);
    if (typeof h === 'string') throw new Error(h);
    this.hier = h;
    this.log.info({ ...h }, `reading CPU throttling from cgroup v${h.version}`);
    return h;
  }

  private observe(pod: PodCgroup, deltas: Map<string, number>, avg10: number | undefined, at: number, since: number): CpuThrottleObservation | undefined {
    const d = (p: string, field: string) => deltas.get(`${p}\t${field}`) ?? 0;
    const figures = (p: string): ThrottleFigures => ({ periods: d(p, PERIODS), throttledPeriods: d(p, THROTTLED), throttledMs: d(p, THROTTLED_US) / 1000 });
    const own = figures(pod.path);
    const containers: ContainerThrottle[] = pod.containers.map((c) => ({ id: c.id, ...figures(c.path) })).filter((c) => c.throttledPeriods > 0);
    if (own.throttledPeriods === 0 && containers.length === 0) return undefined;
    let most: ThrottleFigures & { id?: string } = own;
    for (const c of containers) if (c.throttledMs > most.throttledMs || (c.throttledMs === most.throttledMs && c.throttledPeriods > most.throttledPeriods)) most = c;
    return {
      at,
      since,
      pod: this.opts.podByUid?.(pod.uid),
      uid: pod.uid,
      throttledIn: most.id ?? 'pod',
      periods: most.periods,
      throttledPeriods: most.throttledPeriods,
      throttledMs: most.throttledMs,
      usageMs: d(pod.path, USAGE_US) / 1000,
      ...(avg10 !== undefined ? { pressureSomeMs: d(pod.path, PRESSURE_US) / 1000, pressureSomeAvg10: avg10 } : {}),
      containers,
    };
  }

  /** A cgroup's counters; undefined when it went away or its files could not be trusted (counted, logged once). */
  private counters(hier: CpuHierarchy, rel: string, withUsage: boolean): CpuCounters | undefined {
    const stat = this.text(hier.cpu, `${rel}/cpu.stat`);
    if (stat === undefined) return undefined;
    const counters = hier.version === 2 ? cpuStatV2(stat) : cpuStatV1(stat);
    if (!counters) return this.failed(`${rel}/cpu.stat`, `out of shape: ${JSON.stringify(stat.slice(0, 200))}`);
    if (hier.version === 1 && withUsage && hier.cpuacct) {
      const usage = this.text(hier.cpuacct, `${rel}/cpuacct.usage`);
      if (usage === undefined) return undefined;
      const us = cpuacctUsageUs(usage);
      if (us === undefined) return this.failed(`${rel}/cpuacct.usage`, `out of shape: ${JSON.stringify(usage.slice(0, 200))}`);
      counters.usageUs = us;
    }
    return counters;
  }

  private pressure(hier: CpuHierarchy, rel: string): { avg10: number; totalUs: number } | undefined {
    if (!hier.pressure || this.noPressure.has(rel)) return undefined;
    const file = `${rel}/cpu.pressure`;
    let text: string;
    try {
      text = readSmall(`${hier.pressure}/${file}`);
    } catch (err) {
      // absent: the pod's tree exists only in v1 (hybrid, cgroupfs driver), or PSI is off (EOPNOTSUPP)
      if (NO_FILE.has(codeOf(err)) || codeOf(err) === 'EOPNOTSUPP') this.noPressure.add(rel);
      else this.failed(file, `unreadable: ${describe(err)}`);
      return undefined;
    }
    return pressureSome(text) ?? this.failed(file, `out of shape: ${JSON.stringify(text.slice(0, 200))}`);
  }

  /** A file of mount/rel; undefined when it is gone (the cgroup went away) or unreadable. */
  private text(mount: string, rel: string): string | undefined {
    try {
      return readSmall(`${mount}/${rel}`);
    } catch (err) {
      if (NO_FILE.has(codeOf(err))) this.vanished(rel);
      else this.failed(rel, `unreadable: ${describe(err)}`);
      return undefined;
    }
  }

  private vanished(rel: string): void {
    this.round.vanished++;
    this.log.info({ cgroup: rel }, 'a cgroup went away while read (a pod or container ending)');
  }

  /** Counted every time; logged once while the same problem lasts. */
  private failed(rel: string, problem: string): undefined {
    this.errors++;
    this.round.errors++;
    this.troubled.add(rel);
    if (this.warned.get(rel) !== problem) this.log.warn({ cgroup: rel }, problem);
    this.warned.set(rel, problem);
    return undefined;
  }
}

// cgroup files are a few lines: one buffer serves every read, without readFileSync's fstat and allocation.
const BUFFER = Buffer.alloc(64 * 1024);

function readSmall(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const n = fs.readSync(fd, BUFFER, 0, BUFFER.length, 0);
    if (n === BUFFER.length) throw new Error(`${file} is larger than ${BUFFER.length} bytes`);
    return BUFFER.toString('latin1', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Puts a cgroup's counters among this read's; returns the cgroup. */
function keep(current: Map<string, number>, rel: string, c: CpuCounters): string {
  current.set(`${rel}\t${PERIODS}`, c.periods);
  current.set(`${rel}\t${THROTTLED}`, c.throttled);
  current.set(`${rel}\t${THROTTLED_US}`, c.throttledUs);
  current.set(`${rel}\t${USAGE_US}`, c.usageUs);
  return rel;
}
