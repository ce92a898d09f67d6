// Conntrack of a network namespace over ctnetlink (the addon): table health, flows grouped by original
// destination, and flows that died unanswered. Arguments are checked here; the addon trusts them.
import { addon, IPS_SEEN_REPLY, netnsPath, type ConntrackGroup, type ConntrackGroupColumns, type ConntrackStats } from '../native';

export type { ConntrackGroup, ConntrackStats };

/** Status filters: flows that never saw a reply, and flows that did. */
export const UNREPLIED = { value: 0, mask: IPS_SEEN_REPLY } as const;
export const REPLIED = { value: IPS_SEEN_REPLY, mask: IPS_SEEN_REPLY } as const;

/** Enough for every Service and endpoint a node talks to, and still cheap to hand to JS. */
export const DEFAULT_MAX_GROUPS = 10_000;

export interface AggregateOptions {
  /** a name under /run/netns, an absolute path to a netns file (/proc/PID/ns/net), or absent for our own */
  netns?: string;
  /** 4 or 6 for one family; 0 (default) for both */
  family?: 0 | 4 | 6;
  /** only flows whose status & mask === value, e.g. UNREPLIED */
  status?: { value: number; mask: number };
  /** most groups returned, largest first; the rest are summed into one last group with daddr '*'. 0 = all */
  maxGroups?: number;
}

export interface ConntrackDeaths {
  /** flows destroyed without a reply since the previous drain, by original destination (flows = unreplied) */
  groups: ConntrackGroup[];
  /** times the kernel dropped events since the previous drain (our queue was full): deaths went uncounted */
  overflows: number;
  /** events that reached user space since the previous drain: the unanswered ones, filtered in the kernel */
  delivered: number;
}

export interface ConntrackDeathWatch {
  drain(): ConntrackDeaths;
  /** idempotent */
  stop(): void;
}

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function groups({ daddrs, states, values }: ConntrackGroupColumns): ConntrackGroup[] {
  if (values.length === 0) return [];
  const state = states.split('\n');
  return daddrs.split('\n').map((daddr, i) => ({
    daddr,
    dport: values[i * 5]!,
    proto: values[i * 5 + 1]!,
    state: state[i]!,
    flows: values[i * 5 + 2]!,
    unreplied: values[i * 5 + 3]!,
    assured: values[i * 5 + 4]!,
  }));
}

/** Per-CPU counters summed, entry count and nf_conntrack_max. Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN for another netns). */
export async function readConntrackStats(netns?: string): Promise<ConntrackStats> {
  return addon().conntrackStats(netnsPath(netns));
}

/** One dump of the table, grouped in C on a worker thread; largest groups first. */
export async function aggregateConntrack(options: AggregateOptions = {}): Promise<ConntrackGroup[]> {
  const { family = 0, status, maxGroups = DEFAULT_MAX_GROUPS } = options;
  if (family !== 0 && family !== 4 && family !== 6) throw new TypeError(`conntrack: family must be 0, 4 or 6, not ${String(family)}`);
  if (status !== undefined) {
    if (!isUint32(status.value) || !isUint32(status.mask) || status.mask === 0) {
      throw new TypeError('conntrack: status needs 32-bit value and mask, mask ≠ 0');
    }
    if ((status.value & ~status.mask) !== 0) throw new TypeError('conntrack: status.value has bits outside mask: nothing would match');
  }
  if (!isUint32(maxGroups)) throw new TypeError(`conntrack: maxGroups must be a 32-bit count, not ${String(maxGroups)}`);
  const columns = await addon().conntrackAggregate({
    netnsPath: netnsPath(options.netns),
    family,
    ...(status && { status: { value: status.value, mask: status.mask } }),
    maxGroups,
  });
  return groups(columns);
}

/**
 * Starts counting entries that die unanswered (DESTROY events without SEEN_REPLY: lost handshakes,
 * unanswered UDP) by original destination; drain() each interval, stop() at the end. Only flows created
 * after the start are seen (see NativeConntrackWatch.start). Needs CAP_NET_ADMIN.
 */
export async function watchConntrackDeaths(options: { netns?: string; maxGroups?: number } = {}): Promise<ConntrackDeathWatch> {
  const { maxGroups = DEFAULT_MAX_GROUPS } = options;
  if (!isUint32(maxGroups) || maxGroups === 0) throw new TypeError(`conntrack: maxGroups must be a 32-bit count ≥ 1, not ${String(maxGroups)}`);
  const watch = new (addon().ConntrackWatch)();
  await watch.start({ netnsPath: netnsPath(options.netns), maxGroups });
  return {
    drain: () => {
      const drained = watch.drain();
      return { groups: groups(drained), overflows: drained.overflows, delivered: drained.delivered };
    },
    stop: () => watch.stop(),
  };
}
