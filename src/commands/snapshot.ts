// `flapwatch snapshot`: watch drops for a while, then print them grouped by reason, location (function) and
// destination (the original, pre-DNAT destination when conntrack knew it), as an aligned table or JSON.
import type { SnapshotConfig } from '../config';
import { DropSource, type DropLosses } from '../kernel/drops';
import { functionOf } from '../kernel/kallsyms';
import { createLogger } from '../log';
import type { DropObservation, Endpoint, RetransmitObservation } from '../observe/types';

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

export interface SnapshotReport {
  durationSeconds: number;
  drops: DropRow[];
  retransmits: RetransmitRow[];
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

  addDrops(items: DropObservation[]): void {
    for (const d of items) {
      const { destination, original } = destinationOf(d);
      const row = { reason: d.reasonName, reasonCode: d.reason, location: functionOf(d.location), loss: d.loss, proto: protoName(d.tuple.proto), destination, original };
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
    return { durationSeconds, drops: byPackets(this.drops.values()), retransmits: byPackets(this.retransmits.values()), lost };
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
  const l = r.lost;
  out.push('', `Not seen: ${l.dropFlowsEvicted} drop flows evicted, ${l.dropMapFull} drops refused by a full map, ` +
    `${l.retransmitFlowsEvicted} retransmit flows evicted, ${l.retransmitMapFull} retransmits refused by a full map.`);
  return `${out.join('\n')}\n`;
}

export function formatJson(r: SnapshotReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

/** Runs the command; resolves to the exit code. */
export async function runSnapshot(config: SnapshotConfig): Promise<number> {
  // No samples: a snapshot reports the aggregation only (4096 is the smallest ring the addon takes).
  const source = new DropSource({ ...config, samplesPerSecond: 0, ringBytes: 4096, logger: createLogger(config.logLevel, 2) });
  const summary = new SnapshotSummary();
  source.onDrops((items) => summary.addDrops(items));
  source.onRetransmits((items) => summary.addRetransmits(items));
  await source.start();
  const down = source.stats().find((s) => s.source === 'drops' && !s.up);
  if (down) {
    await source.stop();
    process.stderr.write(`flapwatch: cannot watch drops: ${down.reason}\n`);
    return 1;
  }
  const started = Date.now();
  // Ctrl-C ends the watch early and still prints what was seen.
  await new Promise<void>((done) => {
    const finish = () => {
      clearTimeout(timer);
      process.off('SIGINT', finish);
      done();
    };
    const timer = setTimeout(finish, config.durationMs);
    process.once('SIGINT', finish);
  });
  await source.drain();
  await source.stop();
  const { dropFlowsEvicted, dropMapFull, retransmitFlowsEvicted, retransmitMapFull } = source.losses();
  const lost = { dropFlowsEvicted, dropMapFull, retransmitFlowsEvicted, retransmitMapFull };
  const report = summary.report(Math.round((Date.now() - started) / 100) / 10, lost);
  process.stdout.write(config.json ? formatJson(report) : formatTable(report));
  return 0;
}
