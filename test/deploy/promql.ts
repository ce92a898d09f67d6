// Just enough of PromQL to list what an expression reads: its series selectors (name and label matchers) and
// the labels it groups or matches by. Syntax is promtool's to check; this answers "which metrics, which
// labels", so that a dashboard or an alert cannot quietly query something flapwatch does not export.
import { TARGET_LABELS, type MetricContract } from './metrics';

export interface Matcher { label: string; op: '=' | '!=' | '=~' | '!~'; value: string }
export interface Selector { metric?: string; matchers: Matcher[] }
export interface ExprRefs {
  selectors: Selector[];
  groupingLabels: string[];
  /** labels the expression makes itself: label_replace's and label_join's destinations */
  madeLabels: string[];
}

type Tok = { kind: 'id' | 'str' | 'num' | 'op' | 'punct'; text: string };

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2', 'start', 'end']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

function unquote(s: string): string {
  if (s.startsWith('`')) return s.slice(1, -1);
  return s.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t' })[c] ?? c);
}

function tokenize(expr: string): Tok[] {
  const re = /\s+|#[^\n]*|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\])|([A-Za-z_:][A-Za-z0-9_:]*)|((?:0x[0-9a-fA-F]+|\d*\.?\d+(?:e[+-]?\d+)?)(?:[smhdwy]|ms)*)|(=~|!~|!=|==|<=|>=|[-+*/%^<>=])|([{}()[\],@])/gy;
  const out: Tok[] = [];
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < expr.length && (m = re.exec(expr))) {
    at = re.lastIndex;
    if (m[1]) out.push({ kind: 'str', text: m[1] });
    else if (m[2]) out.push({ kind: 'id', text: m[2] }); // a Grafana variable stands where an identifier or number would
    else if (m[3]) out.push({ kind: 'id', text: m[3] });
    else if (m[4]) out.push({ kind: 'num', text: m[4] });
    else if (m[5]) out.push({ kind: 'op', text: m[5] });
    else if (m[6]) out.push({ kind: 'punct', text: m[6] });
  }
  if (at < expr.length) throw new Error(`cannot read PromQL at ${JSON.stringify(expr.slice(at, at + 20))} in ${expr}`);
  return out;
}

/** The selectors and grouping labels of one expression. */
export function references(expr: string): ExprRefs {
  const t = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const madeLabels: string[] = [];
  // label_replace(v, "dst", …) and label_join(v, "dst", …): the string after the first argument
  const madeBy = (open: number) => {
    let depth = 0;
    for (let j = open; j < t.length; j++) {
      if (t[j]!.text === '(' || t[j]!.text === '{' || t[j]!.text === '[') depth++;
      else if (t[j]!.text === ')' || t[j]!.text === '}' || t[j]!.text === ']') depth--;
      else if (depth === 1 && t[j]!.text === ',') return t[j + 1]?.kind === 'str' ? madeLabels.push(unquote(t[j + 1]!.text)) : undefined;
      if (depth === 0) return undefined;
    }
    return undefined;
  };
  const matchers = (i: number): [Matcher[], number] => {
    const list: Matcher[] = [];
    i++; // {
    while (t[i] && t[i]!.text !== '}') {
      const [label, op, value] = [t[i], t[i + 1], t[i + 2]];
      if (label?.kind !== 'id' || !op || !['=', '!=', '=~', '!~'].includes(op.text) || value?.kind !== 'str') {
        throw new Error(`bad label matcher near ${t.slice(i, i + 3).map((x) => x.text).join(' ')} in ${expr}`);
      }
      list.push({ label: label.text, op: op.text as Matcher['op'], value: unquote(value.text) });
      i += 3;
      if (t[i]?.text === ',') i++;
    }
    return [list, i + 1];
  };
  for (let i = 0; i < t.length; ) {
    const tok = t[i]!;
    if (tok.text === '[') {
      while (t[i] && t[i]!.text !== ']') i++; // a range or subquery: durations and Grafana's $__rate_interval
      i++;
    } else if (tok.kind === 'id' && GROUPING.has(tok.text) && t[i + 1]?.text === '(') {
      for (i += 2; t[i] && t[i]!.text !== ')'; i++) if (t[i]!.kind === 'id') groupingLabels.push(t[i]!.text);
      i++;
    } else if (tok.kind === 'id' && t[i + 1]?.text === '(') {
      if (tok.text === 'label_replace' || tok.text === 'label_join') madeBy(i + 1);
      i += 2; // a function or an aggregation
    } else if (tok.kind === 'id' && (t[i + 1]?.text === 'by' || t[i + 1]?.text === 'without')) {
      i++; // an aggregation with its grouping first: sum by (x) (…)
    } else if (tok.kind === 'id' && !KEYWORDS.has(tok.text) && !tok.text.startsWith('$') && !tok.text.startsWith('[[')) {
      if (t[i + 1]?.text === '{') {
        const [list, next] = matchers(i + 1);
        selectors.push({ metric: tok.text, matchers: list });
        i = next;
      } else {
        selectors.push({ metric: tok.text, matchers: [] });
        i++;
      }
    } else if (tok.text === '{') {
      const [list, next] = matchers(i);
      selectors.push({ matchers: list });
      i = next;
    } else {
      i++;
    }
  }
  return { selectors, groupingLabels, madeLabels };
}

const fullMatch = (re: string, s: string) => new RegExp(`^(?:${re})$`).test(s);
const hasVariable = (s: string) => /\$/.test(s);

/** What in `expr` is not in the contract: unknown metrics, labels, and label values outside a closed set. */
export function contractProblems(expr: string, contract: ReadonlyMap<string, MetricContract>): string[] {
  const problems: string[] = [];
  const { selectors, groupingLabels, madeLabels } = references(expr);
  if (selectors.length === 0) problems.push(`reads no metric: ${expr}`);
  const used: MetricContract[] = [];
  for (const s of selectors) {
    const byName = s.matchers.find((m) => m.label === '__name__');
    const names = s.metric !== undefined ? [s.metric]
      : byName?.op === '=' ? [byName.value]
        : byName?.op === '=~' ? [...contract.keys()].filter((n) => fullMatch(byName.value, n)) : [];
    if (names.length === 0) problems.push(`a selector without a metric name the contract has: ${JSON.stringify(s.matchers)}`);
    const metrics = names.map((n) => contract.get(n));
    names.forEach((n, k) => metrics[k] === undefined && problems.push(`${n} is not a metric flapwatch exports`));
    const known = metrics.filter((m): m is MetricContract => m !== undefined);
    used.push(...known);
    for (const m of s.matchers.filter((x) => x.label !== '__name__')) {
      for (const metric of known) {
        if (!metric.labels.includes(m.label) && !(TARGET_LABELS as readonly string[]).includes(m.label)) {
          problems.push(`${metric.name} has no label ${m.label}`);
          continue;
        }
        const closed = metric.values?.[m.label];
        if (!closed || hasVariable(m.value)) continue;
        const hit = m.op === '=' || m.op === '!=' ? closed.includes(m.value) : closed.some((v) => fullMatch(m.value, v));
        if (!hit) problems.push(`${metric.name}{${m.label}${m.op}"${m.value}"} matches none of ${closed.join(', ')}`);
      }
    }
  }
  // a histogram's buckets carry le besides its labels
  const labels = new Set<string>([...TARGET_LABELS, ...madeLabels, ...used.flatMap((m) => (m.type === 'histogram' ? [...m.labels, 'le'] : m.labels))]);
  for (const l of groupingLabels) if (!labels.has(l)) problems.push(`groups by ${l}, a label none of its metrics has`);
  return problems;
}
