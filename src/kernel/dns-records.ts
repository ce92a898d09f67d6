// The DNS tracer's rows → observations: the rows of one client and server (one of queries, one per rcode of the
// answers) become one observation.
import type { DnsRow } from '../native';
import type { DnsObservation } from '../observe/dns';

const PROTOS = { 6: 'tcp', 17: 'udp' } as const;

export function toDnsObservations(rows: readonly DnsRow[]): DnsObservation[] {
  const byPair = new Map<string, DnsObservation & { answers: Map<number, number>; latency: { buckets: number[]; sumSeconds: number } }>();
  for (const r of rows) {
    const proto = PROTOS[r.proto as keyof typeof PROTOS];
    if (!proto) continue; // the kernel keeps only UDP and TCP: anything else is a row we cannot read
    const key = `${r.netns}|${r.client}|${r.server}|${r.serverPort}|${proto}`;
    let o = byPair.get(key);
    if (!o) {
      o = {
        netns: r.netns, clientIp: r.client, server: { ip: r.server, port: r.serverPort }, proto,
        queries: 0, retries: 0, late: 0, unanswered: 0, pending: 0, answers: new Map(),
        latency: { buckets: r.buckets.map(() => 0), sumSeconds: 0 },
      };
      byPair.set(key, o);
    }
    o.queries += r.queries;
    o.retries += r.retries;
    o.late += r.late;
    o.unanswered += r.unanswered;
    o.pending += r.pending;
    if (r.rcode === null || r.answers === 0) continue;
    o.answers.set(r.rcode, (o.answers.get(r.rcode) ?? 0) + r.answers);
    o.latency.sumSeconds += r.latencyNs / 1e9;
    r.buckets.forEach((n, i) => (o!.latency.buckets[i] = (o!.latency.buckets[i] ?? 0) + n));
  }
  return [...byPair.values()];
}
