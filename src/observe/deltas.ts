// Increases of monotonic counters read from outside (kube-proxy's rule counters, conntrack's stats, kubelet's
// metrics, a netns's TcpExt): the first reading primes, a counter first seen later counts in full (it is new:
// everything it shows happened since), and a decrease is a reset (the new value is what happened since). Never a
// negative delta. A reset followed by more than the old value between two readings looks like growth and
// undercounts: where that matters the caller keys a counter by its instance too (an nft rule handle), so that a
// re-created counter is a new key.
export class CounterDeltas {
  private last = new Map<string, number>();
  private primed = false;

  /**
   * The increase of every counter in `current` since the previous call; only increases > 0 are returned. A
   * counter absent from `current` is forgotten unless `stillThere(key)` says it merely went unread this time.
   */
  update(current: Iterable<[string, number]>, stillThere: (key: string) => boolean = () => false): Map<string, number> {
    const deltas = new Map<string, number>();
    const next = new Map<string, number>();
    for (const [key, value] of current) {
      if (!Number.isFinite(value) || value < 0) continue;
      next.set(key, (next.get(key) ?? 0) + value);
    }
    if (this.primed) {
      for (const [key, value] of next) {
        const before = this.last.get(key) ?? 0;
        const delta = value >= before ? value - before : value;
        if (delta > 0) deltas.set(key, delta);
      }
    }
    for (const [key, value] of this.last) if (!next.has(key) && stillThere(key)) next.set(key, value);
    this.last = next;
    this.primed = true;
    return deltas;
  }

  get size(): number {
    return this.last.size;
  }
}
