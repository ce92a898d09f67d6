// `flapwatch snapshot`'s report in words: an aligned table, or JSON.
import { hostPort } from '../observe/net';
import type { SnapshotReport } from './snapshot-summary';

/** Columns padded to their widest cell; the first `rightAligned` columns right-aligned (numbers). */
export function align(header: string[], rows: string[][], rightAligned: number): string {
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
      hostPort(d.destination) + (d.original ? ' *' : ''),
    ]);
    out.push(align(['PACKETS', 'BYTES', 'LOSS', 'REASON', 'LOCATION', 'PROTO', 'DESTINATION'], rows, 2));
  }
  if (r.retransmits.length === 0) out.push('', 'No TCP retransmits.');
  else {
    const rows = r.retransmits.map((t) => [String(t.packets), t.state, hostPort(t.destination)]);
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
  if (r.timeWaitSegments) out.push(`Not drops: ${r.timeWaitSegments} segments TIME_WAIT sockets took (late FINs and ACKs of closed connections).`);
  return `${out.join('\n')}\n`;
}

export function formatJson(r: SnapshotReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

