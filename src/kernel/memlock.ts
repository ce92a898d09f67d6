// Before 5.11 the kernel charged BPF maps to the process's locked-memory limit (RLIMIT_MEMLOCK) instead of its
// memory cgroup, and containers get a small one. libbpf raises the limit by itself when it may (CAP_SYS_RESOURCE);
// without that, maps the limit cannot hold fail to load. Sized down to fit, the tracer still runs: fewer flows
// are aggregated between drains, and the evictions are counted.
import { hasCapabilities } from '../observe/errors';

/** The map capacities the tracer asks for. */
export interface MapSizes {
  maxFlows: number;
  maxRetransmitFlows: number;
  ringBytes: number;
}

export interface MapPlan extends MapSizes {
  /** why the maps are smaller than asked, for the log; absent when they are not */
  reason?: string;
}

// What one element costs the kernel: an LRU hash element's header (struct htab_elem) and its key and value
// rounded to 8 bytes (native/bpf/drops.h: struct fw_drop_key 80, fw_retrans_key 48, fw_counter 16).
const ELEM_HEADER = 48;
const DROP_ELEM = ELEM_HEADER + 80 + 16;
const RETRANSMIT_ELEM = ELEM_HEADER + 48 + 16;
/** the per-CPU arrays, the maps' own structures and what rounding adds */
const FIXED = 1 << 20;
const MIN_FLOWS = 1024;
const CAP_SYS_RESOURCE = 24;

export function mapBytes(s: MapSizes): number {
  return s.maxFlows * DROP_ELEM + s.maxRetransmitFlows * RETRANSMIT_ELEM + s.ringBytes + FIXED;
}

/** `5.10.0-23-amd64` → [5, 10]; unknown shapes as a new kernel (nothing to fit). */
function version(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [Infinity, 0];
}

/** The soft RLIMIT_MEMLOCK in bytes from /proc/self/limits' text; Infinity when unlimited or unreadable. */
export function memlockLimit(limits: string): number {
  const m = /^Max locked memory\s+(\S+)/m.exec(limits);
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/**
 * The sizes to load with: as asked, unless this kernel charges maps to a limit that cannot hold them and the
 * process may not raise it; then both flow maps shrink in proportion to fit (never below MIN_FLOWS).
 */
export function planMaps(want: MapSizes, release: string, limits: string, mayRaise = hasCapabilities([CAP_SYS_RESOURCE])): MapPlan {
  const [major, minor] = version(release);
  if (major > 5 || (major === 5 && minor >= 11)) return want; // memory cgroups are charged instead
  const limit = memlockLimit(limits);
  const need = mapBytes(want);
  if (need <= limit || mayRaise) return want;
  const room = Math.max(0, limit - want.ringBytes - FIXED);
  const scale = room / (need - want.ringBytes - FIXED);
  const shrink = (n: number) => Math.max(MIN_FLOWS, Math.floor(n * scale));
  const plan = { ...want, maxFlows: shrink(want.maxFlows), maxRetransmitFlows: shrink(want.maxRetransmitFlows) };
  return {
    ...plan,
    reason: `kernel ${release} charges BPF maps to the locked-memory limit (${Math.round(limit / 1024)} KiB here) and the maps asked `
      + `for need ${(need / 2 ** 20).toFixed(1)} MiB: sized down to ${plan.maxFlows} drop flows and ${plan.maxRetransmitFlows} retransmit flows `
      + '(more evictions between drains); give the container CAP_SYS_RESOURCE (libbpf then raises the limit) or a larger memlock ulimit to keep the full size',
  };
}
