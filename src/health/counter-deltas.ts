// Increases of monotonic counters read from outside (kubelet's metrics, a netns's TcpExt): the first read primes,
// a counter first seen later counts from zero, a decrease is a reset (the new value is what happened since).
export class CounterDeltas {
  private last = new Map<string, number>();
  private primed = false;

  /**
   * The increase of every counter in `current` since the previous call; only increases > 0 are returned.
   * A counter absent from `current` is forgotten unless `stillThere(key)` says it merely went unread this time.
   */
  update(current: ReadonlyMap<string, number>, stillThere: (key: string) => boolean = () => false): Map<string, number> {
    const deltas = new Map<string, number>();
    const next = new Map<string, number>();
    for (const [key, value] of current) {
      if (!Number.isFinite(value) || value < 0) continue;
      next.set(key, value);
      if (!this.primed) continue;
      const before = this.last.get(key) ?? 0;
      const delta = value >= before ? value - before : value;
      if (delta > 0) deltas.set(key, delta);
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
