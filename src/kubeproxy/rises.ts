// Which of kube-proxy's drop and reject rules fired since the last reading: their counters' increases. kube-proxy
// rewrites its chains on every sync and a rewritten rule starts again from zero, so a decrease is a reset; an nft
// rule re-created with a new handle is a new counter even when it already counts more than the old one did.
import { CounterDeltas } from '../observe/deltas';
import { parseServicePortName, type ServicePortRef } from '../observe/objects';
import type { DropKind, DropRule } from './model';

export interface RuleRise {
  kind: DropKind;
  /** the Service port of a per-Service rule; absent for node-wide ones */
  service?: Omit<ServicePortRef, 'protocol'>;
  table: string;
  chain: string;
  packets: number;
}

export class RuleRises {
  private readonly deltas = new CounterDeltas();

  /**
   * One complete reading of the rules; the first is the baseline and rises nothing. Rules sharing a key are summed
   * and counted once; rules without counters (nftables mode) never rise.
   */
  update(drops: readonly DropRule[]): RuleRise[] {
    const counted = drops.filter((d) => d.packets !== undefined);
    const instances = new Map<string, string[]>();
    for (const d of counted) {
      const list = instances.get(d.key);
      if (list) list.push(d.instance ?? '');
      else instances.set(d.key, [d.instance ?? '']);
    }
    // a key's counter is the sum of its rules, re-created when any of them is
    const keyOf = (d: DropRule) => `${d.key}\0${instances.get(d.key)!.join(',')}`;
    const rose = this.deltas.update(counted.map((d) => [keyOf(d), d.packets!]));
    const rises: RuleRise[] = [];
    for (const d of counted) {
      const packets = rose.get(keyOf(d));
      if (!packets) continue;
      rose.delete(keyOf(d)); // counted once per key
      const service = d.service === undefined ? null : parseServicePortName(d.service);
      rises.push({ kind: d.kind, table: d.table, chain: d.chain, packets, ...(service && { service }) });
    }
    return rises;
  }
}
