// /metrics, /healthz, /readyz over node:http. Serving starts before any kernel source, so an operator can
// see flapwatch_source_up{…} 0 and the reason in the logs instead of a dead endpoint.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TextRegistry } from './metrics/text-registry';

export interface HttpOptions {
  host: string;
  port: number;
  registry: Registry;
  /** true once every source has finished starting, up or down */
  ready: () => boolean;
  logger: Logger;
  /** JSON routes beyond the fixed ones: the handler of the first matching prefix answers, null = 404 */
  json?: Record<string, (path: string, query: URLSearchParams) => unknown | Promise<unknown>>;
}

export interface HttpServer {
  /** the bound port (useful with port 0) */
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

async function handle(o: HttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
  const url = new URL(req.url ?? '/', 'http://localhost');
  for (const [prefix, handler] of Object.entries(o.json ?? {})) {
    if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) continue;
    const body = await handler(url.pathname.slice(prefix.length), url.searchParams);
    return body === null || body === undefined
      ? send(res, 404, '{"error":"not found"}\n', 'application/json')
      : send(res, 200, `${JSON.stringify(body, null, 1)}\n`, 'application/json');
  }
  switch (url.pathname) {
    case '/metrics': {
      if (!(o.registry instanceof TextRegistry)) return send(res, 200, await o.registry.metrics(), o.registry.contentType);
      const pieces = await o.registry.exposition();
      res.writeHead(200, { 'content-type': o.registry.contentType });
      for (const p of pieces) res.write(p);
      return void res.end();
    }
    case '/healthz':
      return send(res, 200, 'ok\n');
    case '/readyz':
      return o.ready() ? send(res, 200, 'ready\n') : send(res, 503, 'starting\n');
    default:
      return send(res, 404, 'not found\n');
  }
}

export function startHttp(o: HttpOptions): Promise<HttpServer> {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((err: unknown) => {
      o.logger.error({ err, url: req.url }, `HTTP ${req.url} failed`);
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections(); // keep-alive scrapers must not hold shutdown
          }),
      });
    });
  });
}
