// `flapwatch explain NS/SVC`: asks a running daemon for a Service's recent incidents and evidence.
import type { ExplainConfig } from '../config';
import type { Incident } from '../correlate/incident';
import { hostPort } from '../observe/net';
import { describeEvidence } from '../report/incident-text';

interface ServiceAnswer {
  service: { namespace: string; name: string };
  ports: { portName: string; protocol: string; vips: { ip: string; port: number }[]; endpoints: number; readyEndpoints: number }[];
  incidents: (Incident & { message: string })[];
  recent: { from: number; to: number; evidence: { kind: string; what: string; count: number }[]; probes: Record<string, { ok: number; failed: number }> };
}

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

export function formatExplain(a: ServiceAnswer): string {
  const out: string[] = [`${a.service.namespace}/${a.service.name}`];
  for (const p of a.ports) {
    const vips = p.vips.map(hostPort).join(', ') || 'headless';
    out.push(`  port ${p.portName || '(unnamed)'}/${p.protocol}: ${vips}, ${p.readyEndpoints} of ${p.endpoints} endpoints ready`);
  }
  const span = Math.round((a.recent.to - a.recent.from) / 1000);
  out.push('', `In the last ${span}s:`);
  if (!a.recent.evidence.length) out.push('  no packet lost on its paths');
  for (const e of a.recent.evidence) out.push(`  ${String(e.count).padStart(6)}  ${e.kind}  ${e.what}`);
  for (const [path, r] of Object.entries(a.recent.probes)) out.push(`  active probes via ${path}: ${r.ok} ok, ${r.failed} failed`);
  out.push('', a.incidents.length ? `Incidents (newest first):` : 'No incidents.');
  for (const i of a.incidents) {
    out.push(`  ${time(i.at)}  [${i.verdict}]  ${i.message}`);
    for (const e of i.evidence.slice(0, 5)) {
      out.push(`      ${e.path}: ${describeEvidence(e)}`);
      for (const x of e.examples ?? []) out.push(`        e.g. ${time(x.at)}  ${x.from} → ${x.to}${x.sentTo ? ` (sent to ${x.sentTo})` : ''}, ${x.len} bytes`);
    }
    if (i.probes) out.push(`      active probes: ${Object.entries(i.probes).map(([p, r]) => `${p} ${r.ok} ok / ${r.failed} failed`).join(', ')}`);
    if (i.failedDependencies?.length) out.push(`      payload says failed: ${i.failedDependencies.join(', ')}`);
  }
  return `${out.join('\n')}\n`;
}

/** Resolves to the exit code: 0 shown, 1 the daemon answered no such Service, 2 no daemon. */
export async function runExplain(c: ExplainConfig): Promise<number> {
  const url = `${c.server}/services/${c.namespace}/${c.name}?limit=${c.limit}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    process.stderr.write(`flapwatch: no daemon answers at ${c.server} (${(err as Error).message}); is \`flapwatch run\` running? (--server)\n`);
    return 2;
  }
  if (res.status === 404) {
    process.stderr.write(`flapwatch: the daemon knows no Service ${c.namespace}/${c.name} and has no incident for it\n`);
    return 1;
  }
  if (!res.ok) {
    process.stderr.write(`flapwatch: ${url} answered ${res.status}\n`);
    return 2;
  }
  const body = (await res.json()) as ServiceAnswer;
  process.stdout.write(c.json ? `${JSON.stringify(body, null, 2)}\n` : formatExplain(body));
  return 0;
}
