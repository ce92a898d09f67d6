// Parsers of the cgroup files that tell CPU throttling, in both cgroup versions. Each returns undefined for text it
// cannot trust (a line out of shape): the caller counts that and keeps the previous reading.

/** One cgroup's CFS bandwidth counters and CPU use, in microseconds. */
export interface CpuCounters {
  /** enforcement periods that elapsed with runnable tasks (nr_periods) */
  periods: number;
  /** periods in which the group ran out of quota (nr_throttled) */
  throttled: number;
  /** time the group's runqueues spent throttled, summed over CPUs */
  throttledUs: number;
  /** CPU time used: v2's usage_usec; v1 reads it from cpuacct.usage */
  usageUs: number;
}

const UINT = /^\d+$/;

/**
 * The values of `keys` in flat-keyed text (`key value` lines, cpu.stat's form); a key the kernel does not list is 0
 * (a v2 cgroup without the cpu controller has no nr_periods). Undefined when any line is out of shape.
 */
export function flatKeyed(text: string, keys: readonly string[]): number[] | undefined {
  const out = keys.map(() => 0);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const value = line.slice(sp + 1);
    if (sp <= 0 || !UINT.test(value)) return undefined;
    const i = keys.indexOf(line.slice(0, sp));
    if (i >= 0) out[i] = Number(value);
  }
  return out;
}

const V2_KEYS = ['nr_periods', 'nr_throttled', 'throttled_usec', 'usage_usec'] as const;
const V1_KEYS = ['nr_periods', 'nr_throttled', 'throttled_time'] as const;

/** cgroup v2 cpu.stat. */
export function cpuStatV2(text: string): CpuCounters | undefined {
  const v = flatKeyed(text, V2_KEYS);
  return v && { periods: v[0] as number, throttled: v[1] as number, throttledUs: v[2] as number, usageUs: v[3] as number };
}

/** cgroup v1 cpu.stat (throttled_time in ns); usage comes from cpuacct.usage, 0 until the caller adds it. */
export function cpuStatV1(text: string): CpuCounters | undefined {
  const v = flatKeyed(text, V1_KEYS);
  return v && { periods: v[0] as number, throttled: v[1] as number, throttledUs: (v[2] as number) / 1000, usageUs: 0 };
}

/** cgroup v1 cpuacct.usage: one number, in ns; returned in µs. */
export function cpuacctUsageUs(text: string): number | undefined {
  const t = text.trim();
  return UINT.test(t) ? Number(t) / 1000 : undefined;
}

export interface PressureSome {
  /** share of the last 10 s in which some task waited for CPU, in percent */
  avg10: number;
  /** total time some task waited, µs */
  totalUs: number;
}

const SOME = /^some avg10=(\d+\.\d+) avg60=\d+\.\d+ avg300=\d+\.\d+ total=(\d+)$/m;

/** The `some` line of cpu.pressure (PSI). */
export function pressureSome(text: string): PressureSome | undefined {
  const m = SOME.exec(text);
  return m ? { avg10: Number(m[1]), totalUs: Number(m[2]) } : undefined;
}
