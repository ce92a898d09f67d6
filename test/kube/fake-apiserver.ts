// A fake kube-apiserver on node:http(s) that real clients run against: paginated consistent lists
// (limit/continue, resourceVersion), watches as chunked JSON lines (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR)
// with field and label selectors, 410 Gone the way the real server says it (an ERROR event carrying a Status
// on a watch, HTTP 410 for an expired continue token), bearer-token auth. Tests script it: change objects,
// move the revision on, compact, send bookmarks, and inject faults (statuses, hangs, slow answers, cuts).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { FakeStore, type Change, type KubeObject, type Resource } from './fake-store';
import { fieldSelector, labelSelector, SelectorError } from './selectors';

export type { KubeObject, Resource } from './fake-store';

interface Kind {
  prefix: string;
  kind: string;
  apiVersion: string;
  /** selectable field → where its value is in the object */
  fields: Record<string, string>;
}

const meta = { 'metadata.name': 'metadata.name', 'metadata.namespace': 'metadata.namespace' };
const KINDS: Record<Resource, Kind> = {
  services: { prefix: '/api/v1', kind: 'Service', apiVersion: 'v1', fields: { ...meta, 'spec.clusterIP': 'spec.clusterIP', 'spec.type': 'spec.type' } },
  endpointslices: { prefix: '/apis/discovery.k8s.io/v1', kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', fields: { ...meta, addressType: 'addressType' } },
  pods: {
    prefix: '/api/v1', kind: 'Pod', apiVersion: 'v1',
    fields: { ...meta, 'spec.nodeName': 'spec.nodeName', 'spec.hostNetwork': 'spec.hostNetwork', 'status.phase': 'status.phase', 'status.podIP': 'status.podIP' },
  },
  events: {
    prefix: '/api/v1', kind: 'Event', apiVersion: 'v1',
    fields: {
      ...meta, reason: 'reason', type: 'type', source: 'source.component', reportingComponent: 'reportingComponent',
      ...Object.fromEntries(['kind', 'namespace', 'name', 'uid', 'apiVersion', 'fieldPath'].map((f) => [`involvedObject.${f}`, `involvedObject.${f}`])),
    },
  },
};
const ROUTE = /^(\/api\/v1|\/apis\/discovery\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)$/;

export interface RequestRecord {
  resource: Resource;
  verb: 'list' | 'watch';
  query: Record<string, string>;
}

export interface Fault {
  resource?: Resource;
  verb?: 'list' | 'watch';
  /** only requests carrying a continue token */
  continued?: boolean;
  /** an HTTP status to answer with, or 'hang': never answer */
  answer: number | 'hang';
  /** how many requests it hits (default 1) */
  times?: number;
}

interface Watcher {
  resource: Resource;
  namespace?: string;
  match: (o: KubeObject) => boolean;
  bookmarks: boolean;
  res: ServerResponse;
}

export interface FakeOptions {
  port?: number;
  /** default 127.0.0.1; the lab's host side of its veth for a daemon inside the lab's node */
  host?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** the bearer token clients must send; none = no auth */
  token?: string;
}

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
const REASONS: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' };

export class FakeApiServer {
  readonly store = new FakeStore();
  readonly requests: RequestRecord[] = [];
  /** answers are delayed this long (slow API server); lists also pause halfway through the body */
  slowMs = 0;
  /** the bearer token clients must send; undefined = no auth (change it to rotate) */
  token: string | undefined;
  private readonly faults: Fault[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly hooks = new Set<(r: RequestRecord) => void>();
  private cutNext: Resource | undefined;

  private constructor(private readonly server: http.Server, private readonly opts: FakeOptions) {
    this.store.onChange((c) => this.broadcast(c));
    this.token = opts.token;
  }

  static async start(opts: FakeOptions = {}): Promise<FakeApiServer> {
    const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }) : http.createServer();
    const fake = new FakeApiServer(server, opts);
    server.on('request', (req, res) => {
      fake.handle(req, res).catch((err: unknown) => fake.error(res, 500, String(err)));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  put(resource: Resource, obj: KubeObject): KubeObject {
    return this.store.put(resource, obj);
  }

  remove(resource: Resource, namespace: string, name: string): boolean {
    return this.store.remove(resource, namespace, name);
  }

  /** Sends a BOOKMARK at the current revision to every watch of `resource` that allowed bookmarks. */
  bookmark(resource: Resource): void {
    const k = KINDS[resource];
    for (const w of this.watchers) {
      if (w.resource === resource && w.bookmarks) {
        this.send(w, 'BOOKMARK', { kind: k.kind, apiVersion: k.apiVersion, metadata: { resourceVersion: String(this.store.rv) } });
      }
    }
  }

  fail(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Ends every watch of `resource` (all when absent) at once, as a dropped connection does. */
  cutWatches(resource?: Resource): void {
    for (const w of this.watchers) if (!resource || w.resource === resource) w.res.socket?.destroy();
  }

  /** The next event for a watch of `resource` goes out half written, then the connection drops. */
  cutMidEvent(resource: Resource): void {
    this.cutNext = resource;
  }

  watching(resource: Resource): number {
    return [...this.watchers].filter((w) => w.resource === resource).length;
  }

  /** Called with each request before it is answered (a test can compact between two pages, say). */
  onRequest(fn: (r: RequestRecord) => void): () => void {
    this.hooks.add(fn);
    return () => this.hooks.delete(fn);
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = ROUTE.exec(url.pathname);
    const resource = m?.[3] as Resource | undefined;
    if (!m || !resource || !KINDS[resource] || KINDS[resource].prefix !== m[1]) return this.error(res, 404, `the server could not find the requested resource (${url.pathname})`);
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) return this.error(res, 401, 'Unauthorized');
    const query = Object.fromEntries(url.searchParams);
    const record: RequestRecord = { resource, verb: query.watch === 'true' || query.watch === '1' ? 'watch' : 'list', query };
    this.requests.push(record);
    for (const fn of this.hooks) fn(record);
    const fault = this.faults.find((f) => (!f.resource || f.resource === resource) && (!f.verb || f.verb === record.verb) && (!f.continued || !!query.continue));
    if (fault) {
      if (--fault.times! <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
      if (fault.answer === 'hang') return;
      return this.error(res, fault.answer, `injected ${fault.answer}`);
    }
    if (this.slowMs) await new Promise((r) => setTimeout(r, this.slowMs));
    let match: (o: KubeObject) => boolean;
    try {
      const fields = query.fieldSelector ? fieldSelector(query.fieldSelector, KINDS[resource].fields) : () => true;
      const labels = query.labelSelector ? labelSelector(query.labelSelector) : () => true;
      match = (o) => (!m[2] || o.metadata.namespace === m[2]) && fields(o) && labels(o);
    } catch (err) {
      if (err instanceof SelectorError) return this.error(res, 400, err.message);
      throw err;
    }
    if (record.verb === 'watch') this.watch(resource, query, match, res);
    else await this.list(resource, query, match, res);
  }

  error(res: ServerResponse, code: number, message: string): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(status(code, REASONS[code] ?? 'Unknown', message)));
  }

  private async list(resource: Resource, query: Record<string, string>, match: (o: KubeObject) => boolean, res: ServerResponse): Promise<void> {
    let rv = this.store.rv;
    let after = '';
    if (query.continue) {
      try {
        ({ rv, key: after } = JSON.parse(Buffer.from(query.continue, 'base64url').toString()) as { rv: number; key: string });
      } catch {
        return this.error(res, 400, 'continue key is not valid');
      }
    }
    const state = this.store.at(resource, rv);
    if (!state) {
      return this.error(res, 410, 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
    }
    const keys = [...state.keys()].filter((k) => k > after && match(state.get(k)!)).sort();
    const limit = Number(query.limit) > 0 ? Number(query.limit) : keys.length;
    const page = keys.slice(0, limit);
    const more = keys.length > page.length;
    const k = KINDS[resource];
    const metadata = {
      resourceVersion: String(rv),
      ...(more && { continue: Buffer.from(JSON.stringify({ rv, key: page[page.length - 1] })).toString('base64url'), remainingItemCount: keys.length - page.length }),
    };
    const body = JSON.stringify({ kind: `${k.kind}List`, apiVersion: k.apiVersion, metadata, items: page.map((key) => state.get(key)) });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (this.slowMs) {
      res.write(body.slice(0, body.length >> 1));
      await new Promise((r) => setTimeout(r, this.slowMs));
      res.end(body.slice(body.length >> 1));
    } else res.end(body);
  }

  private watch(resource: Resource, query: Record<string, string>, match: (o: KubeObject) => boolean, res: ServerResponse): void {
    const w: Watcher = { resource, match, bookmarks: query.allowWatchBookmarks === 'true', res };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = query.resourceVersion;
    if (!from || from === '0') {
      // no version: the current state as ADDED events, then changes (what the server does for rv="" or "0")
      for (const [, obj] of this.store.at(resource, this.store.rv)!) if (match(obj)) this.send(w, 'ADDED', obj);
    } else {
      const changes = this.store.since(resource, Number(from));
      if (!changes) {
        this.send(w, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${this.store.compactedRv})`));
        res.end();
        return;
      }
      for (const c of changes) this.deliver(w, c);
    }
    if (res.destroyed) return; // the client left during the replay
    this.watchers.add(w);
    const timeout = Number(query.timeoutSeconds) > 0 ? setTimeout(() => res.end(), Number(query.timeoutSeconds) * 1000) : undefined;
    timeout?.unref();
    res.on('close', () => {
      clearTimeout(timeout);
      this.watchers.delete(w);
    });
  }

  private broadcast(c: Change): void {
    for (const w of this.watchers) if (w.resource === c.resource) this.deliver(w, c);
  }

  // A change that moves an object into or out of a watch's selector is an ADDED or a DELETED for that watch.
  private deliver(w: Watcher, c: Change): void {
    const now = c.type !== 'DELETED' && w.match(c.obj);
    const before = !!c.prev && w.match(c.prev);
    if (c.type === 'DELETED') {
      if (before) this.send(w, 'DELETED', c.obj);
    } else if (now) this.send(w, before ? 'MODIFIED' : 'ADDED', c.obj);
    else if (before) this.send(w, 'DELETED', c.obj);
  }

  private send(w: Watcher, type: string, object: unknown): void {
    if (w.res.destroyed) return;
    const line = `${JSON.stringify({ type, object })}\n`;
    if (this.cutNext === w.resource && type !== 'ERROR') {
      this.cutNext = undefined;
      w.res.write(line.slice(0, line.length >> 1), () => w.res.socket?.destroy());
      return;
    }
    w.res.write(line);
  }
}

