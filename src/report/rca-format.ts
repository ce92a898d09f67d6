// `flapwatch rca`'s report: the root candidates best first, each with its score, the terms that make it and the
// evidence behind them; or the same as JSON.
import { WEIGHTS, type Candidate, type RcaResult, type Term } from '../cluster/rca';
import { count, dropsText } from './graph-format';

export interface RcaReport {
  result: RcaResult;
  window: string;
  atMs: number;
  nodes: number;
}

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const share = (n: number) => n.toFixed(2);

function termsText(c: Candidate): string {
  const named = c.callers.filter((x) => x.named).length;
  const lost = c.callers.filter((x) => !x.named && x.lost).length;
  const callers = `${c.callers.length} failing caller${c.callers.length === 1 ? '' : 's'}`;
  const why: Record<Term, string> = {
    own: c.failures > 0 ? 'its failures that named no dependency' : 'its checks pass: its failing callers that lost packets to it',
    independent: c.calls.length ? `calls ${c.calls.join(', ')}` : 'calls no candidate',
    reach: c.reachedBy.length ? `from ${c.reachedBy.join(', ')}` : 'no other failure leads here',
    pointed: `${named} of ${callers} named it${lost ? `, ${lost} lost packets to it` : ''}`,
  };
  return (Object.keys(WEIGHTS) as Term[]).map((t) => `${t} ${share(c.terms[t])} (${why[t]})`).join(' · ');
}

function evidence(c: Candidate): string[] {
  const out: string[] = [];
  if (c.failures > 0) {
    const own = c.own.map((v) => `${count(v.count)} ${v.verdict}${v.nodes.length ? ` (${v.nodes.join(', ')})` : ''}`).join(', ');
    out.push(`${count(c.failures)} failures; naming no dependency: ${own || 'none'}`);
  } else out.push('its own checks did not fail');
  if (c.names.length) out.push(`its failures named: ${c.names.map((n) => `${n.dependency} ${count(n.count)}`).join(', ')}`);
  if (c.unconfirmed.length) out.push(`its payload blamed, passing their checks, no connect to them failed (counted as its own): ${c.unconfirmed.map((n) => `${n.dependency} ${count(n.count)}`).join(', ')}`);
  if (c.namedBy.length) out.push(`named by: ${c.namedBy.map((n) => `${n.service} ${count(n.count)} (${n.verdicts.join(', ')})`).join(', ')}`);
  for (const t of c.inbound) {
    const what = [t.attempted > 0 ? `${count(t.failed)} of ${count(t.attempted)} connects failed` : '', t.retransmits > 0 ? `${count(t.retransmits)} retransmits` : '',
      dropsText(t.drops) !== '-' ? `dropped ${dropsText(t.drops)}` : ''].filter(Boolean);
    out.push(`calls from ${t.caller}: ${what.join(', ')}`);
  }
  if (c.firstFailing !== undefined) out.push(`first seen failing ${time(c.firstFailing)}`);
  return out;
}

export function formatRcaText(r: RcaReport): string {
  const head = `Root-cause candidates, ${time(r.atMs)} UTC and the ${r.window} before, from ${r.nodes} node${r.nodes === 1 ? '' : 's'}`;
  const { failing, belowFloor, candidates } = r.result;
  if (!failing.length) return `${head}: no Service failed a health check.\n`;
  const out = [`${head}:`, `${failing.length} failing: ${failing.join(', ')}`];
  if (belowFloor.length) out.push(`too few failures to count: ${belowFloor.map((b) => `${b.service} ${count(b.failures)}`).join(', ')}`);
  out.push('');
  candidates.forEach((c, i) => {
    out.push(`${String(i + 1).padStart(2)}. ${c.service}  score ${c.score.toFixed(2)}`, `      ${termsText(c)}`);
    for (const line of evidence(c)) out.push(`      ${line}`);
  });
  return `${out.join('\n')}\n`;
}

export function formatRcaJson(r: RcaReport): string {
  return `${JSON.stringify({ at: new Date(r.atMs).toISOString(), window: r.window, nodes: r.nodes, weights: WEIGHTS, ...r.result }, null, 2)}\n`;
}
