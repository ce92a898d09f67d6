// Field and label selectors as kube-apiserver reads them: comma-separated requirements, all of which must hold.
// Fields: `f=v`, `f==v`, `f!=v` on the fields a resource supports (any other is a 400, as the real server says).
// Labels: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`.

export type Matcher = (obj: Record<string, unknown>) => boolean;

export class SelectorError extends Error {}

function path(obj: unknown, dotted: string): string {
  let v: unknown = obj;
  for (const part of dotted.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

/** `fields` maps each selectable field to where its value lives in the object (events' `source` is source.component). */
export function fieldSelector(text: string, fields: Record<string, string>): Matcher {
  const reqs = text.split(',').filter((s) => s.trim()).map((req) => {
    const m = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(req);
    if (!m) throw new SelectorError(`invalid field selector requirement "${req}"`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const where = fields[field];
    if (!where) throw new SelectorError(`field label not supported: ${field}`);
    return (obj: Record<string, unknown>) => (path(obj, where) === value) === (op !== '!=');
  });
  return (obj) => reqs.every((r) => r(obj));
}

/** Splits on the commas outside parentheses. */
function requirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

export function labelSelector(text: string): Matcher {
  const reqs = requirements(text).map((req): ((labels: Record<string, string>) => boolean) => {
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([\w./-]+)$/.exec(req))) {
      const key = m[1]!;
      return (l) => !(key in l);
    }
    if ((m = /^([\w./-]+)$/.exec(req))) {
      const key = m[1]!;
      return (l) => key in l;
    }
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(req))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    if ((m = /^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(req))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in' ? (l) => key in l && values.has(l[key]!) : (l) => !(key in l) || !values.has(l[key]!);
    }
    throw new SelectorError(`unable to parse requirement: "${req}"`);
  });
  return (obj) => {
    const labels = ((obj.metadata as { labels?: Record<string, string> } | undefined)?.labels ?? {}) as Record<string, string>;
    return reqs.every((r) => r(labels));
  };
}
