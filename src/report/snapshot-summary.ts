// What `flapwatch snapshot` reports, added up as the intervals come: drops grouped by reason, location (function)
// and destination (the original, pre-DNAT destination when conntrack knew it); per Service, drops by mechanism,
// retransmits, unreplied flows and kube-proxy's reject/drop rule packets; and the node's conntrack health.
import type { ConntrackGroup } from '../kernel/conntrack';
import type { DropLosses } from '../kernel/drops';
import type { NodeInterval } from '../node/interval';
import type { DropObservation, RetransmitObservation } from '../observe/kernel';
import { hostPort, protoName, type Address } from '../observe/net';
import { objectKey, type ServiceRef } from '../observe/objects';
import type { AttributedGroup } from '../services/attribute';

export interface DropRow {
  reason: string;
  reasonCode: number;
  location: string;
  loss: boolean;
  proto: string;
  destination: Address;
  /** the destination is the flow's original one, not the packet's (DNAT had rewritten it) */
  original: boolean;
  packets: number;
  bytes: number;
}

export interface RetransmitRow {
  state: string;
  destination: Address;
  packets: number;
}

/** Snapshots take no samples, so only what the aggregation itself lost. */
export type SnapshotLosses = Pick<DropLosses, 'dropFlowsEvicted' | 'dropMapFull' | 'retransmitFlowsEvicted' | 'retransmitMapFull'>;

/** One Service (all its ports): what it lost in the watch. */
export interface ServiceRow {
  namespace: string;
  name: string;
  /** loss drops by mechanism (two joined by '+' where the evidence could not tell them apart) */
  drops: Record<string, number>;
  retransmits: number;
  /** flows to it still waiting for a reply at the end */
  unrepliedFlows: number;
  /** packets on kube-proxy's reject and drop rules for it, by rule kind */
  rulePackets: Record<string, number>;
}

export interface ConntrackHealth {
  entries: number;
  max: number;
  /** stat increases over the watch (insert_failed, drop, invalid, …) */
  stats: Record<string, number>;
}

export interface SnapshotReport {
  durationSeconds: number;
  drops: DropRow[];
  retransmits: RetransmitRow[];
  services: ServiceRow[];
  /** absent when conntrack could not be read */
  conntrack?: ConntrackHealth;
  /** node-wide rule packets (INVALID, localnet, …) by rule kind */
  nodeRulePackets: Record<string, number>;
  lost: SnapshotLosses;
  /** segments TIME_WAIT sockets took (late FINs and ACKs of closed connections): housekeeping, not drops */
  timeWaitSegments: number;
}

// A reply-direction packet travels away from the flow's original destination: keep its own daddr then.
function destinationOf(d: DropObservation): { destination: Address; original: boolean } {
  const own = { ip: d.tuple.daddr, port: d.tuple.dport };
  if (!d.origDst || d.ct.reply) return { destination: own, original: false };
  return { destination: d.origDst, original: d.origDst.ip !== own.ip || d.origDst.port !== own.port };
}

/** Adds up observations as they arrive, so a long watch holds one row per group, not every record. */
export class SnapshotSummary {
  private readonly drops = new Map<string, DropRow>();
  private readonly retransmits = new Map<string, RetransmitRow>();
  private readonly services = new Map<string, ServiceRow>();
  private readonly nodeRules: Record<string, number> = {};
  private conntrack: ConntrackHealth | undefined;

  /** One interval of the node, attributed: everything above plus the per-Service and conntrack views. */
  addInterval(iv: NodeInterval): void {
    this.addDrops(iv.drops);
    this.addRetransmits(iv.retransmits);
    for (const d of iv.drops) {
      if (!d.loss || !d.service) continue;
      const row = this.service(d.service);
      const m = d.mechanisms.join('+');
      row.drops[m] = (row.drops[m] ?? 0) + d.packets;
    }
    for (const r of iv.retransmits) if (r.service) this.service(r.service).retransmits += r.packets;
    for (const r of iv.rules) {
      const into = r.service ? this.service(r.service).rulePackets : this.nodeRules;
      into[r.kind] = (into[r.kind] ?? 0) + r.packets;
    }
    const ct = iv.conntrack;
    if (ct) {
      const stats = { ...this.conntrack?.stats };
      for (const [k, v] of Object.entries(ct.deltas)) stats[k] = (stats[k] ?? 0) + v;
      this.conntrack = { entries: ct.entries, max: ct.max, stats };
    }
  }

  /** The flows waiting for a reply at the end, counted to the Service of their original destination. */
  setUnreplied(groups: readonly AttributedGroup<ConntrackGroup>[]): void {
    for (const row of this.services.values()) row.unrepliedFlows = 0;
    for (const g of groups) if (g.service) this.service(g.service).unrepliedFlows += g.unreplied;
  }

  private service(s: ServiceRef): ServiceRow {
    const key = objectKey(s);
    let row = this.services.get(key);
    if (!row) this.services.set(key, (row = { namespace: s.namespace, name: s.name, drops: {}, retransmits: 0, unrepliedFlows: 0, rulePackets: {} }));
    return row;
  }

  addDrops(items: DropObservation[]): void {
    for (const d of items) {
      const { destination, original } = destinationOf(d);
      const row = { reason: d.reasonName, reasonCode: d.reason, location: d.location, loss: d.loss, proto: protoName(d.tuple.proto), destination, original };
      const key = [row.reason, row.location, row.proto, hostPort(destination), original].join(' ');
      let seen = this.drops.get(key);
      if (!seen) this.drops.set(key, (seen = { ...row, packets: 0, bytes: 0 }));
      seen.packets += d.packets;
      seen.bytes += d.bytes;
    }
  }

  addRetransmits(items: RetransmitObservation[]): void {
    for (const r of items) {
      const destination = { ip: r.tuple.daddr, port: r.tuple.dport };
      const key = `${r.state} ${hostPort(destination)}`;
      let seen = this.retransmits.get(key);
      if (!seen) this.retransmits.set(key, (seen = { state: r.state, destination, packets: 0 }));
      seen.packets += r.packets;
    }
  }

  report(durationSeconds: number, lost: SnapshotLosses, timeWaitSegments = 0): SnapshotReport {
    const byPackets = <T extends { packets: number }>(rows: Iterable<T>) => [...rows].sort((a, b) => b.packets - a.packets);
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const weight = (r: ServiceRow) => sum(r.drops) + r.retransmits + r.unrepliedFlows + sum(r.rulePackets);
    const services = [...this.services.values()].sort((a, b) => weight(b) - weight(a) || objectKey(a).localeCompare(objectKey(b)));
    return {
      durationSeconds,
      drops: byPackets(this.drops.values()),
      retransmits: byPackets(this.retransmits.values()),
      services,
      ...(this.conntrack && { conntrack: this.conntrack }),
      nodeRulePackets: this.nodeRules,
      lost,
      timeWaitSegments,
    };
  }
}
