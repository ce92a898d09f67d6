// Random damage to real iptables-save dumps, from a seeded PRNG so that a failure can be replayed.

export type Mutation =
  | 'truncate' | 'dropChar' | 'dupChar' | 'garbleChar' | 'unbalanceQuote' | 'unknownMatch' | 'unsupportedRevision'
  | 'junkLine' | 'warningLine' | 'duplicateLine';
export const MUTATIONS: readonly Mutation[] = [
  'truncate', 'dropChar', 'dupChar', 'garbleChar', 'unbalanceQuote', 'unknownMatch', 'unsupportedRevision', 'junkLine',
  'warningLine', 'duplicateLine',
];

/** The problem kind a single mutation of this sort must produce (when it changed anything). */
export const MUST_REPORT: Partial<Record<Mutation, string>> = {
  unbalanceQuote: 'unbalanced_quote',
  unknownMatch: 'unknown_match',
  unsupportedRevision: 'unsupported_revision',
  junkLine: 'bad_line',
  warningLine: 'warning',
};

const GARBAGE = ' "\\!-[]:*#\n\tAZaz09/.\u00e9\u0000';

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** Rewrites one random line matching `re` with `f`; the text is unchanged if none matches. */
function onLine(text: string, rnd: () => number, re: RegExp, f: (line: string) => string): string {
  const lines = text.split('\n');
  const candidates = lines.flatMap((l, i) => (re.test(l) ? [i] : []));
  if (!candidates.length) return text;
  const i = pick(rnd, candidates);
  lines[i] = f(lines[i]!);
  return lines.join('\n');
}

export function mutate(text: string, kind: Mutation, rnd: () => number): string {
  const at = Math.floor(rnd() * text.length);
  switch (kind) {
    case 'truncate': return text.slice(0, at);
    case 'dropChar': return text.slice(0, at) + text.slice(at + 1);
    case 'dupChar': return text.slice(0, at + 1) + text.slice(at);
    case 'garbleChar': return text.slice(0, at) + pick(rnd, [...GARBAGE]) + text.slice(at + 1);
    case 'unbalanceQuote':
      return onLine(text, rnd, /^\[\d+:\d+\] -A .*"/, (l) => {
        const quotes = [...l].flatMap((c, i) => (c === '"' ? [i] : []));
        const q = pick(rnd, quotes);
        return l.slice(0, q) + l.slice(q + 1);
      });
    case 'unknownMatch': return onLine(text, rnd, /^\[\d+:\d+\] -A \S+ /, (l) => l.replace(/^(\[\d+:\d+\] -A \S+)/, '$1 -m fancymatch --fancy-opt 3 --fancy-flag'));
    case 'unsupportedRevision': return onLine(text, rnd, / -j /, (l) => l.replace(/ -j /, ' -m conntrack [unsupported revision] -j '));
    case 'junkLine': return insertLine(text, rnd, `qwerty${Math.floor(rnd() * 1000)} -A x`);
    case 'warningLine': return insertLine(text, rnd, '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them');
    case 'duplicateLine': {
      const lines = text.split('\n');
      const i = Math.floor(rnd() * lines.length);
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
  }
}

function insertLine(text: string, rnd: () => number, line: string): string {
  const lines = text.split('\n');
  lines.splice(Math.floor(rnd() * (lines.length - 1)), 0, line);
  return lines.join('\n');
}

/**
 * Rule lines of `mutated` that are intact: identical to a rule line of the original, complete (newline-ended),
 * under an intact `*table` line with no COMMIT since — with the table they had in the original.
 */
export function intactRuleLines(original: string, mutated: string): { line: string; table: string }[] {
  const tableOf = new Map<string, string>();
  let table = '';
  for (const line of original.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('[')) tableOf.set(line, table);
  }
  const out: { line: string; table: string }[] = [];
  const lines = mutated.split('\n');
  lines.pop(); // not newline-ended
  let current: string | null = null;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (line.startsWith('*')) current = /^\*[a-z_]+$/.test(trimmed) ? trimmed.slice(1) : null;
    else if (trimmed === 'COMMIT') current = null;
    else if (current !== null && tableOf.get(line) === current) out.push({ line, table: current });
  }
  return out;
}
