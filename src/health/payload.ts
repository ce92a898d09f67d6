// A /health response body, kept for display: parsed when it is JSON, pruned to a few KiB, redacted, and read
// loosely for the dependencies it says are down (Spring Boot's components, .NET's entries, IETF's checks, …).
// Nothing here is trusted for a decision: a payload is what the application claims.
import { isSecretKey, REDACTED, redactString } from './redact';

export interface PayloadOptions {
  /** hide credential-looking values (default true) */
  redact?: boolean;
  /** about this many bytes of JSON at most (default 4096) */
  maxBytes?: number;
  maxDepth?: number;
  /** keys per object and items per array (default 50) */
  maxKeys?: number;
  /** characters per string (default 512) */
  maxString?: number;
}

export interface HealthPayload {
  payload?: unknown;
  failedDependencies?: string[];
}

const GROUPS = ['checks', 'details', 'dependencies', 'components', 'entries'];
// groups whose every entry is a failure (hellofresh/health's `failures`)
const FAILURE_GROUPS = ['failures', 'errors'];
const NAME_KEYS = ['name', 'id', 'componentId', 'component', 'key', 'service'];
const STATUS_KEYS = ['status', 'state', 'health'];
const BOOL_KEYS = ['healthy', 'ok', 'up', 'alive', 'available', 'pass'];
const FAILING = /^(down|fail|failed|failing|failure|error|errored|unhealthy|critical|crit|red|out[_ ]?of[_ ]?service|unavailable|not[_ ]?serving|ko|dead|offline|bad)$/i;
const MAX_DEPS = 50;
const MAX_DEP_DEPTH = 4;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

function field(o: Record<string, Json>, names: readonly string[]): Json | undefined {
  for (const key of Object.keys(o)) if (names.includes(key) || names.includes(key.toLowerCase())) return o[key];
  return undefined;
}

function isFailing(v: Json | undefined, depth = 0): boolean {
  if (typeof v === 'string') return FAILING.test(v.trim());
  if (depth > MAX_DEP_DEPTH) return false;
  // IETF draft: checks: {"db:responseTime": [{status: "fail"}]}
  if (Array.isArray(v)) return v.slice(0, MAX_DEPS).some((x) => isFailing(x, depth + 1));
  if (!isObject(v)) return false;
  const status = field(v, STATUS_KEYS);
  if (status !== undefined) return isFailing(status, depth + 1);
  return field(v, BOOL_KEYS) === false;
}

function entriesOf(group: Json): Array<[string, Json]> {
  if (isObject(group)) return Object.entries(group);
  if (!Array.isArray(group)) return [];
  return group.flatMap((item, i): Array<[string, Json]> => {
    if (!isObject(item)) return [];
    const name = field(item, NAME_KEYS);
    return [[typeof name === 'string' || typeof name === 'number' ? String(name) : `#${i}`, item]];
  });
}

/** Names of the failing entries, the deepest ones when a failing entry has failing entries of its own. */
function failing(node: Json, prefix: string, depth: number, out: string[]): void {
  if (!isObject(node) || depth > MAX_DEP_DEPTH) return;
  for (const key of Object.keys(node)) {
    const lower = key.toLowerCase();
    const all = FAILURE_GROUPS.includes(lower);
    if (!all && !GROUPS.includes(lower)) continue;
    for (const [name, value] of entriesOf(node[key] as Json)) {
      if (out.length >= MAX_DEPS) return;
      const before = out.length;
      failing(value, `${prefix}${name}.`, depth + 1, out);
      if (out.length === before && (all || isFailing(value)) && !out.includes(prefix + name)) out.push(prefix + name);
    }
  }
}

/** The dependencies a health payload says are down, read loosely from its common shapes. */
export function failedDependencies(body: unknown): string[] {
  const out: string[] = [];
  failing(body as Json, '', 0, out);
  return out;
}

class Pruner {
  private budget: number;
  constructor(private readonly o: Required<PayloadOptions>) {
    this.budget = o.maxBytes;
  }

  value(v: Json, depth: number, secret: boolean): Json {
    if (typeof v === 'string') return this.string(v, secret);
    if (typeof v === 'number' && secret && this.o.redact) return this.string(REDACTED, false);
    if (!v || typeof v !== 'object') {
      this.budget -= String(v).length;
      return v;
    }
    if (depth >= this.o.maxDepth) return this.string(Array.isArray(v) ? `[${v.length} items]` : `{${Object.keys(v).length} keys}`, false);
    this.budget -= 2;
    if (Array.isArray(v)) {
      const out: Json[] = [];
      for (const [i, item] of v.entries()) {
        if (i >= this.o.maxKeys || this.budget <= 0) {
          out.push(`… ${v.length - i} more`);
          break;
        }
        out.push(this.value(item, depth + 1, secret));
      }
      return out;
    }
    const out: Record<string, Json> = {};
    const keys = Object.keys(v);
    for (const [i, key] of keys.entries()) {
      if (i >= this.o.maxKeys || this.budget <= 0) {
        out['…'] = `${keys.length - i} more keys`;
        break;
      }
      this.budget -= key.length + 4;
      out[key] = this.value(v[key] as Json, depth + 1, secret || (this.o.redact && isSecretKey(key)));
    }
    return out;
  }

  private string(s: string, secret: boolean): string {
    let out = this.o.redact ? (secret ? REDACTED : redactString(s)) : s;
    const max = Math.max(16, Math.min(this.o.maxString, this.budget));
    if (out.length > max) out = `${out.slice(0, max)}…`;
    this.budget -= out.length + 2;
    return out;
  }
}

function options(opts: PayloadOptions): Required<PayloadOptions> {
  return { redact: opts.redact ?? true, maxBytes: opts.maxBytes ?? 4096, maxDepth: opts.maxDepth ?? 8, maxKeys: opts.maxKeys ?? 50, maxString: opts.maxString ?? 512 };
}

/** A value pruned and (unless told otherwise) redacted: what may be logged and served. */
export function prunePayload(value: unknown, opts: PayloadOptions = {}): unknown {
  return new Pruner(options(opts)).value(value as Json, 0, false);
}

/** Reads a response body: JSON when it parses (whatever the content type says), else its text, both pruned. */
export function readHealthPayload(body: string, opts: PayloadOptions = {}): HealthPayload {
  const text = body.trim();
  if (text === '') return {};
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    return { payload: prunePayload(text, opts) };
  }
  const deps = failedDependencies(parsed);
  return { payload: prunePayload(parsed, opts), ...(deps.length ? { failedDependencies: deps } : {}) };
}
