// The two requests a list+watch needs, on node:http(s) with one keep-alive agent: a list page read whole
// (pages are bounded by `limit`), and a watch read as a stream of JSON lines, one event at a time, so that
// nothing larger than a page or an event is ever held. API errors arrive as Status objects: they become an
// ApiError with the Status code (410 Gone = relist).
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { describe } from '../observe/errors';
import type { ApiAccess, TlsMaterial } from './access';

export class ApiError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isGone = (err: unknown): boolean => err instanceof ApiError && err.code === 410;

interface Status {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continue: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: { metadata?: { resourceVersion?: string } } & Record<string, unknown>;
}

export interface WatchOptions {
  /** no byte for this long: the connection is dead */
  idleMs: number;
  onOpen: () => void;
  onEvent: (e: WatchEvent) => void;
  /** aborting ends the watch as 'cut' */
  signal?: AbortSignal;
}

/** How a watch ended when the server did not report an error. */
export type WatchEnd = 'ended' | 'cut';

const MAX_BODY = 256 << 20;
const MAX_LINE = 64 << 20;

function statusError(httpStatus: number, body: string): ApiError {
  let s: Status = {};
  try {
    s = JSON.parse(body) as Status;
  } catch {
    // a proxy's HTML page or nothing: the HTTP status is all there is
  }
  const code = typeof s.code === 'number' ? s.code : httpStatus;
  const text = [s.reason, s.message].filter(Boolean).join(': ') || http.STATUS_CODES[httpStatus] || 'error';
  return new ApiError(`HTTP ${code} ${text}`, code);
}

export class ApiClient {
  private agent: http.Agent | undefined;
  private agentTls: TlsMaterial | undefined;
  private readonly inflight = new Set<ClientRequest>();
  private closed = false;
  private listing: Promise<void> = Promise.resolve();

  constructor(private readonly access: () => ApiAccess, private readonly requestTimeoutMs: number) {}

  /** One page at a time across all resources: a relist of everything must not hold four pages at once. */
  list(path: string, query: Record<string, string>): Promise<ListPage> {
    const page = this.listing.then(() => this.listPage(path, query));
    this.listing = page.then(() => undefined, () => undefined);
    return page;
  }

  private async listPage(path: string, query: Record<string, string>): Promise<ListPage> {
    const res = await this.open(path, query);
    const body = await readAll(res);
    let list: { items?: unknown; metadata?: { resourceVersion?: string; continue?: string } };
    try {
      list = JSON.parse(body) as typeof list;
    } catch (err) {
      throw new ApiError(`unreadable list of ${path}: ${describe(err)}`);
    }
    if (!Array.isArray(list.items)) throw new ApiError(`list of ${path} has no items`);
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '', continue: list.metadata?.continue ?? '' };
  }

  /** Resolves when the stream ends without an error event; rejects with the server's Status otherwise. */
  async watch(path: string, query: Record<string, string>, opts: WatchOptions): Promise<WatchEnd> {
    const { onEvent } = opts;
    const res = await this.open(path, { ...query, watch: 'true' }, opts.signal);
    res.setTimeout(opts.idleMs, () => res.destroy(new ApiError(`watch of ${path}: nothing for ${opts.idleMs / 1000} s`)));
    opts.onOpen();
    res.setEncoding('utf8');
    return new Promise<WatchEnd>((resolve, reject) => {
      let buf = '';
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      const fail = (err: ApiError) => settle(() => {
        reject(err);
        res.destroy();
      });
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while (!settled && (nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) this.line(line, onEvent, fail);
        }
        if (buf.length > MAX_LINE) fail(new ApiError(`a watch event of ${path} is over ${MAX_LINE >> 20} MB`));
      });
      res.on('end', () => settle(() => resolve('ended')));
      // a cut stream ends without 'end'; the partial line in buf is dropped and comes again on resume
      res.on('close', () => settle(() => resolve(res.complete ? 'ended' : 'cut')));
      res.on('error', () => settle(() => resolve('cut')));
    });
  }

  close(): void {
    this.closed = true;
    for (const req of this.inflight) req.destroy(new ApiError('stopped'));
    this.agent?.destroy();
  }

  private line(line: string, onEvent: (e: WatchEvent) => void, fail: (err: ApiError) => void): void {
    let e: { type?: string; object?: unknown };
    try {
      e = JSON.parse(line) as typeof e;
    } catch (err) {
      fail(new ApiError(`unreadable watch event: ${describe(err)}`));
      return;
    }
    if (e.type === 'ERROR') {
      const s = (e.object ?? {}) as Status;
      fail(new ApiError(`watch: ${[s.reason, s.message].filter(Boolean).join(': ') || 'error'}`, s.code));
    } else if (e.type && e.object && typeof e.object === 'object') {
      onEvent(e as WatchEvent);
    }
  }

  /** Resolves with a 200 response; the wait for it, and each wait for a list's next bytes, is requestTimeoutMs at most. */
  private async open(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
    const timeoutMs = this.requestTimeoutMs;
    if (this.closed) throw new ApiError('stopped');
    const access = this.access();
    const auth = await access.prepare();
    const url = new URL(path, access.server);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const tls = url.protocol === 'https:';
    const agent = this.agentFor(tls, auth.tls);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (tls ? https : http).request(url, { headers: { Accept: 'application/json', ...auth.headers }, agent, ...(signal && { signal }) }, resolve);
      this.inflight.add(req);
      req.once('close', () => this.inflight.delete(req));
      req.setTimeout(timeoutMs, () => req.destroy(new ApiError(`no answer from ${url.host} for ${timeoutMs / 1000} s`)));
      req.once('error', (err) => reject(err instanceof ApiError ? err : new ApiError(`${url.host}: ${describe(err)}`)));
      req.end();
    });
    if (res.statusCode !== 200) throw statusError(res.statusCode ?? 0, await readAll(res, 1 << 16).catch(() => ''));
    return res;
  }

  // One agent while the TLS material stays the same; a rotated CA or client certificate gets a new one.
  private agentFor(tls: boolean, material: TlsMaterial): http.Agent {
    const same = (a?: Buffer, b?: Buffer) => (a && b ? a.equals(b) : a === b);
    const m = this.agentTls;
    const unchanged = m && same(m.ca, material.ca) && same(m.cert, material.cert) && same(m.key, material.key) &&
      m.rejectUnauthorized === material.rejectUnauthorized && m.servername === material.servername;
    if (!this.agent || !unchanged || (this.agent instanceof https.Agent) !== tls) {
      this.agent?.destroy();
      this.agent = tls ? new https.Agent({ keepAlive: true, ...material }) : new http.Agent({ keepAlive: true });
      this.agentTls = material;
    }
    return this.agent;
  }
}

// Decoded as it arrives: the body lives in V8's heap, which gives memory back after a sync, rather than in
// Buffers that leave malloc's arenas fragmented and the process's RSS high.
function readAll(res: IncomingMessage, max = MAX_BODY): Promise<string> {
  res.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let body = '';
    res.on('data', (c: string) => {
      if (body.length + c.length > max) res.destroy(new ApiError(`response over ${max >> 20} MB`));
      else body += c;
    });
    res.once('end', () => resolve(body));
    res.once('error', (err) => reject(err instanceof ApiError ? err : new ApiError(`reading ${res.url ?? 'a response'}: ${describe(err)}`)));
    res.once('close', () => {
      if (!res.complete) reject(new ApiError('the connection closed before the response was complete'));
    });
  });
}
