// What `flapwatch snapshot` prints: drops grouped by reason, location (function) and destination (the original,
// pre-DNAT destination when conntrack knew it); per Service, drops by mechanism, retransmits, unreplied flows and
// kube-proxy's reject/drop rule packets; and the node's conntrack health. An aligned table, or JSON.
import type { ConntrackGroup } from '../kernel/conntrack';
import type { DropLosses } from '../kernel/drops';
import { splitServicePortName } from '../kubeproxy/hash';
import type { DropObservation, Endpoint, RetransmitObservation } from '../observe/types';
import { protocolOf, serviceKey, type ServiceIndex } from '../services/index';
import type { NodeInterval } from '../services/interval';

export interface DropRow {
  reason: string;
  reasonCode: number;
  location: string;
  loss: boolean;
  proto: string;
  destination: Endpoint;
  /** the destination is the flow's original one, not the packet's (DNAT had rewritten it) */
  original: boolean;
  packets: number;
  bytes: number;
}

export interface RetransmitRow {
  state: string;
  destination: Endpoint;
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
}

const PROTOS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

export function protoName(proto: number): string {
  return PROTOS[proto] ?? `proto_${proto}`;
}

export function formatEndpoint({ addr, port }: Endpoint): string {
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return port ? `${host}:${port}` : host;
}

// A reply-direction packet travels away from the flow's original destination: keep its own daddr then.
function destinationOf(d: DropObservation): { destination: Endpoint; original: boolean } {
  const own = { addr: d.tuple.daddr, port: d.tuple.dport };
  if (!d.origDst || d.ct.reply) return { destination: own, original: false };
  return { destination: d.origDst, original: d.origDst.addr !== own.addr || d.origDst.port !== own.port };
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
      const svc = r.service === undefined ? null : splitServicePortName(r.service);
      const into = svc ? this.service(svc).rulePackets : this.nodeRules;
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
  setUnreplied(groups: readonly ConntrackGroup[], index: ServiceIndex): void {
    for (const row of this.services.values()) row.unrepliedFlows = 0;
    for (const g of groups) {
      const proto = protocolOf(g.proto);
      const svc = proto && (index.byVip(g.daddr, g.dport, proto) ?? index.byEndpoint(g.daddr, g.dport, proto));
      if (svc) this.service(svc).unrepliedFlows += g.unreplied;
    }
  }

  private service(s: { namespace: string; name: string }): ServiceRow {
    const key = serviceKey(s);
    let row = this.services.get(key);
    if (!row) this.services.set(key, (row = { namespace: s.namespace, name: s.name, drops: {}, retransmits: 0, unrepliedFlows: 0, rulePackets: {} }));
    return row;
  }

  addDrops(items: DropObservation[]): void {
    for (const d of items) {
      const { destination, original } = destinationOf(d);
      const row = { reason: d.reasonName, reasonCode: d.reason, location: d.location, loss: d.loss, proto: protoName(d.tuple.proto), destination, original };
      const key = [row.reason, row.location, row.proto, formatEndpoint(destination), original].join(' ');
      let seen = this.drops.get(key);
      if (!seen) this.drops.set(key, (seen = { ...row, packets: 0, bytes: 0 }));
      seen.packets += d.packets;
      seen.bytes += d.bytes;
    }
  }

  addRetransmits(items: RetransmitObservation[]): void {
    for (const r of items) {
      const destination = { addr: r.tuple.daddr, port: r.tuple.dport };
      const key = `${r.state} ${formatEndpoint(destination)}`;
      let seen = this.retransmits.get(key);
      if (!seen) this.retransmits.set(key, (seen = { state: r.state, destination, packets: 0 }));
      seen.packets += r.packets;
    }
  }

  report(durationSeconds: number, lost: SnapshotLosses): SnapshotReport {
    const byPackets = <T extends { packets: number }>(rows: Iterable<T>) => [...rows].sort((a, b) => b.packets - a.packets);
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const weight = (r: ServiceRow) => sum(r.drops) + r.retransmits + r.unrepliedFlows + sum(r.rulePackets);
    const services = [...this.services.values()].sort((a, b) => weight(b) - weight(a) || serviceKey(a).localeCompare(serviceKey(b)));
    return {
      durationSeconds,
      drops: byPackets(this.drops.values()),
      retransmits: byPackets(this.retransmits.values()),
      services,
      ...(this.conntrack && { conntrack: this.conntrack }),
      nodeRulePackets: this.nodeRules,
      lost,
    };
  }
}

function align(header: string[], rows: string[][], rightAligned: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < rightAligned ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatTable(r: SnapshotReport): string {
  const out: string[] = [];
  if (r.drops.length === 0) out.push(`No drops in ${r.durationSeconds} s.`);
  else {
    out.push(`Drops in ${r.durationSeconds} s (LOSS no = a benign free, see --benign-reasons; * = original destination before DNAT):`);
    const rows = r.drops.map((d) => [
      String(d.packets), String(d.bytes), d.loss ? 'yes' : 'no', d.reason, d.location, d.proto,
      formatEndpoint(d.destination) + (d.original ? ' *' : ''),
    ]);
    out.push(align(['PACKETS', 'BYTES', 'LOSS', 'REASON', 'LOCATION', 'PROTO', 'DESTINATION'], rows, 2));
  }
  if (r.retransmits.length === 0) out.push('', 'No TCP retransmits.');
  else {
    const rows = r.retransmits.map((t) => [String(t.packets), t.state, formatEndpoint(t.destination)]);
    out.push('', 'TCP retransmits:', align(['PACKETS', 'STATE', 'DESTINATION'], rows, 1));
  }
  const counts = (rec: Record<string, number>) => Object.entries(rec).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
  if (r.services.length === 0) out.push('', 'No Service lost anything.');
  else {
    const rows = r.services.map((s) => [
      `${s.namespace}/${s.name}`, counts(s.drops), String(s.retransmits), String(s.unrepliedFlows), counts(s.rulePackets),
    ]);
    out.push('', 'Per Service:', align(['SERVICE', 'DROPS BY MECHANISM', 'RETRANSMITS', 'UNREPLIED', 'KUBE-PROXY REJECT/DROP RULES'], rows, 0));
  }
  if (Object.keys(r.nodeRulePackets).length) out.push('', `Node-wide kube-proxy rules: ${counts(r.nodeRulePackets)}.`);
  if (r.conntrack) {
    const c = r.conntrack;
    const pct = c.max ? ` (${((100 * c.entries) / c.max).toFixed(1)}%)` : '';
    const rose = Object.entries(c.stats).filter(([, v]) => v > 0);
    out.push('', `Conntrack: ${c.entries} of ${c.max} entries${pct}; ${rose.length ? `rose: ${counts(Object.fromEntries(rose))}` : 'no stat rose'}.`);
  } else out.push('', 'Conntrack: not readable.');
  const l = r.lost;
  out.push('', `Not seen: ${l.dropFlowsEvicted} drop flows evicted, ${l.dropMapFull} drops refused by a full map, ` +
    `${l.retransmitFlowsEvicted} retransmit flows evicted, ${l.retransmitMapFull} retransmits refused by a full map.`);
  return `${out.join('\n')}\n`;
}

export function formatJson(r: SnapshotReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

