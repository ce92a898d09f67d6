// Monotonic accounting of rule counters. kube-proxy rewrites its chains on every sync, and a rewritten rule
// starts again from zero: a counter that went down was reset, and everything it shows now is new. Never a
// negative delta. (A reset followed by more packets than before, between two readings, looks like growth and
// undercounts: rule counters are a cross-check, the kernel's drop events the primary source.)

export interface CounterSample {
  key: string;
  packets?: number;
  bytes?: number;
  /** an identity of the rule itself (nft handle): a new one means the rule was re-created */
  instance?: string;
}

export interface CounterDelta {
  packets: number;
  bytes: number;
}

interface Last {
  packets: number;
  bytes: number;
  instance: string;
}

export class RuleCounters {
  private last = new Map<string, Last>();
  private primed = false;

  /**
   * One complete reading of the rules; returns each key's increase since the previous reading. Samples with the
   * same key add up. At the first reading nothing counts (those packets are from before we looked); after it, a
   * key not seen before counts in full, since its rule is new. Keys missing from a reading are forgotten.
   */
  update(samples: Iterable<CounterSample>): Map<string, CounterDelta> {
    const current = new Map<string, Last>();
    for (const s of samples) {
      if (s.packets === undefined) continue;
      const c = current.get(s.key);
      const instance = s.instance ?? '';
      if (c) [c.packets, c.bytes, c.instance] = [c.packets + s.packets, c.bytes + (s.bytes ?? 0), `${c.instance},${instance}`];
      else current.set(s.key, { packets: s.packets, bytes: s.bytes ?? 0, instance });
    }
    const deltas = new Map<string, CounterDelta>();
    for (const [key, now] of current) {
      const before = this.last.get(key);
      if (!before) deltas.set(key, this.primed ? { packets: now.packets, bytes: now.bytes } : { packets: 0, bytes: 0 });
      else if (before.instance !== now.instance || now.packets < before.packets || now.bytes < before.bytes) {
        deltas.set(key, { packets: now.packets, bytes: now.bytes }); // reset: all of it is new
      } else deltas.set(key, { packets: now.packets - before.packets, bytes: now.bytes - before.bytes });
    }
    this.last = current;
    this.primed = true;
    return deltas;
  }
}
