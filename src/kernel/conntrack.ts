// Conntrack of a network namespace over ctnetlink (the addon): table health, flows grouped by original
// destination, and flows that died unanswered. Arguments are checked here; the addon trusts them.
//
// Deaths come from the UNREPLIED dumps, not from DESTROY events: a listener on the event group makes the kernel
// keep an event cache on every entry and build a message for every one that dies, answered or not (a connect
// storm's every connection), where a dump the kernel filters copies out only the flows still waiting.
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

export interface UnrepliedDump {
  /** flows waiting for a reply now, by original destination and TCP state */
  waiting: ConntrackGroup[];
  /** flows the previous dump saw waiting whose timeout ran out since, by original destination (flows = unreplied) */
  died: ConntrackGroup[];
  /** waiting flows past maxFlows since the previous dump: their deaths go uncounted */
  unfollowed: number;
}

/** Enough for the handshakes a node waits on at once, even blackholed; 64 bytes each. */
export const DEFAULT_MAX_FLOWS = 65_536;

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
 * The flows of a netns that wait for a reply, dump after dump: each dump() says which wait now and which died
 * unanswered since the last (their timeout ran out: lost handshakes, unanswered UDP). A flow that came and died
 * between two dumps is not seen: dump more often than the shortest unreplied timeout (UDP's 30 s). One dump at a
 * time. Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN for another netns).
 */
export function unrepliedFlows(options: { netns?: string; maxGroups?: number; maxFlows?: number } = {}): { dump(): Promise<UnrepliedDump> } {
  const { maxGroups = DEFAULT_MAX_GROUPS, maxFlows = DEFAULT_MAX_FLOWS } = options;
  if (!isUint32(maxGroups) || maxGroups === 0) throw new TypeError(`conntrack: maxGroups must be a 32-bit count ≥ 1, not ${String(maxGroups)}`);
  if (!isUint32(maxFlows)) throw new TypeError(`conntrack: maxFlows must be a 32-bit count, not ${String(maxFlows)}`);
  const flows = new (addon().UnrepliedFlows)({ maxFlows });
  const path = netnsPath(options.netns);
  return {
    dump: async () => {
      const { waiting, died, unfollowed } = await flows.dump({ netnsPath: path, maxGroups });
      return { waiting: groups(waiting), died: groups(died), unfollowed };
    },
  };
}
