// Cost of a child process, read from /proc: CPU (user+sys) over an interval, and memory.
import { readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

/**
 * node's flags and environment for the daemon, as its shebang, `npm start` and the image run it: V8 otherwise
 * grows the young generation to 2 × 16 MB under a burst (a Kubernetes sync) and keeps it (bench kube); glibc
 * otherwise gives each worker thread an arena of its own, and the one that loaded BTF keeps ~14 MB resident.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];
export const DAEMON_ENV = { MALLOC_ARENA_MAX: '2' };

export interface CpuTimes { user: number; sys: number }

export function cpuSeconds(pid: number): CpuTimes {
  // fields after the ")" that ends comm: utime is the 12th, stime the 13th
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / TICK, sys: Number(f[12]) / TICK };
}

/** VmRSS and VmHWM (peak) in MB. */
export function memoryMB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

export function cores(before: CpuTimes, after: CpuTimes, seconds: number): { user: number; sys: number } {
  return { user: (after.user - before.user) / seconds, sys: (after.sys - before.sys) / seconds };
}

/** CPU time every CPU of the machine spent busy (user, nice, system, irq, softirq, steal), in seconds. */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq + steal) / TICK;
}
