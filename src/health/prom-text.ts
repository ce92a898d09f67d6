// A reader of the Prometheus text exposition format (0.0.4), enough for kubelet's /metrics/probes: samples with
// escaped label values, optional timestamps, comments. A line it cannot read is counted and skipped, never fatal.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  /** lines that are neither comments, blank, nor a readable sample */
  badLines: number;
  /** the first unreadable line (cut to 200 characters), for the log */
  firstBad?: string;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseValue(s: string): number | undefined {
  switch (s) {
    case '+Inf': case 'Inf': return Infinity;
    case '-Inf': return -Infinity;
    case 'NaN': return NaN;
  }
  return FLOAT.test(s) ? Number(s) : undefined;
}

/** Reads `{a="x",b="y\"z"}` starting at text[i] === '{'; returns the labels and the index after '}'. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) return undefined;
    const name = line.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) return undefined;
    i = eq + 1;
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] !== '"') return undefined;
    let value = '';
    for (i++; ; i++) {
      const c = line[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const next = line[++i];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else return undefined;
      } else {
        value += c;
      }
    }
    labels[name] = value;
    i++;
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return undefined;
  }
}

function parseLine(line: string, keep?: (name: string) => boolean): PromSample | null | undefined {
  let i = 0;
  while (line[i] === ' ' || line[i] === '\t') i++;
  const start = i;
  if (!NAME_START.test(line[i] ?? '')) return undefined;
  while (i < line.length && NAME_CHAR.test(line[i] as string)) i++;
  const name = line.slice(start, i);
  if (keep && !keep(name)) return null;
  let labels: Record<string, string> = {};
  while (line[i] === ' ' || line[i] === '\t') i++;
  if (line[i] === '{') {
    const parsed = parseLabels(line, i);
    if (!parsed) return undefined;
    labels = parsed.labels;
    i = parsed.end;
  }
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length > 2) return undefined;
  const value = parseValue(rest[0] ?? '');
  if (value === undefined) return undefined;
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1] ?? '')) return undefined;
  return { name, labels, value };
}

/**
 * Every sample of `text`, or only those whose metric name `keep` accepts (the others are skipped before their
 * labels are read, which is what makes a large exposition cheap).
 */
export function parsePromText(text: string, keep?: (name: string) => boolean): PromText {
  const out: PromText = { samples: [], badLines: 0 };
  let from = 0;
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const line = text.slice(from, text[to - 1] === '\r' ? to - 1 : to);
    from = to + 1;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const sample = parseLine(line, keep);
    if (sample) {
      out.samples.push(sample);
    } else if (sample === undefined) {
      out.badLines++;
      out.firstBad ??= line.slice(0, 200);
    }
  }
  return out;
}
