// A "node" for Prometheus to scrape: a small HTTP server answering /metrics with fixed flapwatch series in the text
// exposition format. Counters grow at a fixed rate per second, so that rate() and increase() have something to
// measure; gauges hold their value. A history is replayed first: the samples carry their time (the format's
// optional timestamp), starting `historySeconds` back and moving `stepSeconds` ahead at each scrape until they
// catch up with the clock, so that a 5m rate is whole after a few scrapes instead of five minutes.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixedSeries {
  name: string;
  labels: Record<string, string>;
  /** a counter's growth per second */
  perSecond?: number;
  /** a gauge's value */
  value?: number;
}

export interface MetricsServer {
  /** host:port */
  target: string;
  close(): Promise<void>;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export interface History {
  historySeconds: number;
  stepSeconds: number;
}

/** The exposition text of `series` at `atMs`, their counters started at `originMs`. */
export function exposition(series: readonly FixedSeries[], originMs: number, atMs: number): string {
  return series.map((s) => {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',');
    return `${s.name}{${labels}} ${s.value ?? ((s.perSecond ?? 0) * (atMs - originMs)) / 1000} ${atMs}\n`;
  }).join('');
}

export async function metricsServer(series: readonly FixedSeries[], h: History = { historySeconds: 300, stepSeconds: 30 }): Promise<MetricsServer> {
  const origin = Date.now() - h.historySeconds * 1000;
  let scrapes = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const at = Math.min(Date.now(), origin + scrapes++ * h.stepSeconds * 1000);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition(series, origin, at));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
