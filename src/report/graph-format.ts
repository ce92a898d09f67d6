// `flapwatch graph`'s report: the edges worst first as a table, as Graphviz's dot, or as JSON.
import { dropsOf, failureShare, workloadKey, worstFirst, type GraphEdge, type ServiceGraph } from '../cluster/graph';
import { objectKey } from '../observe/objects';
import { align } from './snapshot-format';

export interface GraphReport {
  graph: ServiceGraph;
  /** the PromQL duration the figures cover, and when it ends */
  window: string;
  atMs: number;
  /** nodes whose flapwatch Prometheus scraped in the window */
  nodes: number;
  namespace: string;
}

export const count = (n: number) => String(Math.round(n));
export const percent = (share: number) => `${(100 * share).toFixed(1)}%`;

export function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 1e-3) return `${Math.round(seconds * 1e6)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

export function dropsText(drops: Record<string, number>): string {
  const list = Object.entries(drops).filter(([, n]) => Math.round(n) > 0).sort((a, b) => b[1] - a[1]);
  return list.map(([m, n]) => `${count(n)} ${m}`).join(', ') || '-';
}

const servicePort = (e: GraphEdge) => `${objectKey(e.service)}${e.port ? `:${e.port}` : ''}`;

export function formatGraphTable(r: GraphReport): string {
  const scope = r.namespace ? ` from or to namespace ${r.namespace}` : '';
  const head = `Service graph${scope}, the ${r.window} before ${new Date(r.atMs).toISOString()}, from ${r.nodes} node${r.nodes === 1 ? '' : 's'}`;
  if (!r.graph.edges.length) {
    const hint = r.nodes ? '' : ' (Prometheus has no flapwatch series in the window: does it scrape flapwatch?)';
    return `${head}: no edges${hint}.\n`;
  }
  const rows = worstFirst(r.graph.edges).map((e) => [
    e.attempted > 0 ? percent(failureShare(e)) : '-', count(e.failed), count(e.attempted), count(e.retransmits),
    duration(e.connectP50), duration(e.connectP90), workloadKey(e.client), servicePort(e), dropsText(e.drops),
  ]);
  return `${head}, worst edges first:\n${align(['FAILED%', 'FAILED', 'CONNECTS', 'RETRANSMITS', 'P50', 'P90', 'CLIENT', 'SERVICE', 'DROPS'], rows, 6)}\n`;
}

/** A dot string: quotes and backslashes escaped, line breaks as dot's \n. */
const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&').replace(/\n/g, '\\n')}"`;

/** Graphviz: Services as ellipses, workloads as boxes, dashed lines from a Service to the workloads backing it. */
export function formatGraphDot(r: GraphReport): string {
  const svc = (s: { namespace: string; name: string }) => quote(`svc:${objectKey(s)}`);
  const wl = (w: GraphEdge['client']) => quote(`wl:${workloadKey(w)}`);
  const services = new Map<string, string>();
  const workloads = new Map<string, string>();
  const lines: string[] = [];
  for (const e of worstFirst(r.graph.edges)) {
    services.set(svc(e.service), objectKey(e.service));
    workloads.set(wl(e.client), `${e.client.namespace}/${e.client.name}\n${e.client.kind}`);
    const lost = e.failed + dropsOf(e) + e.retransmits > 0;
    const label = [`${e.port || 'port'}: ${count(e.attempted)} connects${e.attempted > 0 ? `, ${percent(failureShare(e))} failed` : ''}`];
    if (dropsOf(e) > 0) label.push(`dropped ${dropsText(e.drops)}`);
    if (e.retransmits > 0) label.push(`${count(e.retransmits)} retransmits`);
    if (e.connectP50 !== undefined) label.push(`connect p50 ${duration(e.connectP50)}, p90 ${duration(e.connectP90)}`);
    lines.push(`  ${wl(e.client)} -> ${svc(e.service)} [label=${quote(label.join('\n'))}${lost ? ', color=red, fontcolor=red' : ''}];`);
  }
  for (const b of r.graph.backs) {
    if (!services.has(svc(b.service)) && !workloads.has(wl(b.workload))) continue; // neither end is in this graph
    services.set(svc(b.service), objectKey(b.service));
    workloads.set(wl(b.workload), `${b.workload.namespace}/${b.workload.name}\n${b.workload.kind}`);
    lines.push(`  ${svc(b.service)} -> ${wl(b.workload)} [style=dashed, arrowhead=none];`);
  }
  return [
    'digraph flapwatch {',
    '  rankdir=LR;',
    ...[...services].map(([id, label]) => `  ${id} [label=${quote(label)}, shape=ellipse];`),
    ...[...workloads].map(([id, label]) => `  ${id} [label=${quote(label)}, shape=box];`),
    ...lines,
    '}',
    '',
  ].join('\n');
}

export function formatGraphJson(r: GraphReport): string {
  return `${JSON.stringify({
    window: r.window,
    at: new Date(r.atMs).toISOString(),
    nodes: r.nodes,
    ...(r.namespace && { namespace: r.namespace }),
    edges: worstFirst(r.graph.edges).map((e) => ({ ...e, failedShare: failureShare(e) })),
    backs: r.graph.backs,
  }, null, 2)}\n`;
}
