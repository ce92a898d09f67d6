// Drop reason numbers → names, and which reasons count as loss. Numbers differ between kernels, so names
// come from the running kernel's BTF (`enum skb_drop_reason`) at start.

/**
 * Reasons that are NOT loss by default: the kernel freed a packet that no application was still waiting
 * for. Everything else (NOT_SPECIFIED included: it also covers real drops) counts as loss.
 * `--benign-reasons` replaces this list.
 */
export const DEFAULT_BENIGN_REASONS: readonly string[] = [
  'NOT_DROPPED_YET', // not a drop at all
  'CONSUMED', // a normal free after the packet was delivered
  'QUEUE_PURGE', // a closing socket freeing its queues: the application has gone
  'TCP_OLD_DATA', // a duplicate of data already received (a spurious retransmission)
  'TCP_OFOMERGE', // a duplicate merged into the out-of-order queue: its data was kept
  'TCP_OLD_ACK', // an outdated ACK: nothing the peer needs
  'TCP_ZEROWINDOW', // flow control: the receiver is not reading; the sender retries by design
];

/**
 * Where a packet freed for no named reason is the housekeeping of a network with nobody listening, not loss: IPv6
 * multicast (router solicitations, MLD reports) and IGMP nobody joined, neighbour discovery for addresses nobody
 * has. A quiet lab node frees only these (bench/RESULTS.md, quiet).
 */
const HOUSEKEEPING = new Set(['ip6_mc_input', 'ip_mc_input', 'igmp_rcv', 'ndisc_rcv', 'arp_rcv', 'arp_process']);

/** Multicast and limited broadcast: nobody waits for a copy that no one joined. */
function toGroup(daddr: string): boolean {
  if (daddr.includes(':')) return /^ff/i.test(daddr);
  const first = Number(daddr.slice(0, daddr.indexOf('.')));
  return (first >= 224 && first <= 239) || daddr === '255.255.255.255';
}

// Enumerators that are markers, not reasons.
const NOT_REASONS = new Set(['MAX', 'SUBSYS_MASK']);

/** `SKB_DROP_REASON_NETFILTER_DROP` → `NETFILTER_DROP`, `SKB_CONSUMED` → `CONSUMED`. */
export function reasonNamesFromBtf(enumerators: Record<number, string>): Map<number, string> {
  const names = new Map<number, string>();
  for (const [value, raw] of Object.entries(enumerators)) {
    const name = raw.replace(/^SKB_DROP_REASON_/, '').replace(/^SKB_/, '');
    if (!NOT_REASONS.has(name)) names.set(Number(value), name);
  }
  return names;
}

/** How a reason is spelled in flags: names upper-case, `reason_<n>` lower-case as it is printed. */
export function normalizeReasonName(name: string): string {
  return /^reason_\d+$/i.test(name) ? name.toLowerCase() : name.toUpperCase();
}

export class DropReasons {
  private readonly benign: Set<string>;

  constructor(
    private readonly names: Map<number, string>,
    benign: readonly string[] = DEFAULT_BENIGN_REASONS,
  ) {
    this.benign = new Set(benign.map(normalizeReasonName));
  }

  name(reason: number): string {
    return this.names.get(reason) ?? `reason_${reason}`;
  }

  /** A drop is loss unless its reason is benign, or the kernel named no reason for housekeeping traffic. */
  isLoss(reason: number, location = '', daddr = ''): boolean {
    const name = this.name(reason);
    if (this.benign.has(name)) return false;
    return !(name === 'NOT_SPECIFIED' && (HOUSEKEEPING.has(location) || toGroup(daddr)));
  }

  /** Benign names this kernel does not know: worth a warning at start (kernels differ), not an error. */
  unknownBenign(): string[] {
    const known = new Set(this.names.values());
    return [...this.benign].filter((n) => !known.has(n) && !/^reason_\d+$/.test(n));
  }
}
