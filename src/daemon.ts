// `flapwatch run`: HTTP first (so /metrics and /healthz serve even while a kernel source is down), then the
// sources, one start-up line each, metrics fed from their observations; SIGTERM/SIGINT detach and exit 0.
import type { Logger } from 'pino';
import type { RunConfig } from './config';
import { createLogger } from './log';
import { nodeSources } from './node';
import type { Source, SourceStats } from './observe/types';
import { startHttp, type HttpServer } from './report/http';
import { conntrackMetrics } from './report/metrics/conntrack';
import { dropsMetric } from './report/metrics/drops';
import { kubeProxyMetrics } from './report/metrics/kubeproxy';
import { createRegistry } from './report/metrics/registry';
import { retransmitsMetric } from './report/metrics/retransmits';
import { sourceMetrics } from './report/metrics/sources';

export interface Daemon {
  /** serves, then starts the sources; rejects only when the HTTP port cannot be bound */
  start(): Promise<HttpServer>;
  /** detaches every source and closes the server; safe at any point, idempotent */
  stop(): Promise<void>;
}

function logStartup(logger: Logger, s: SourceStats): void {
  const fields = { source: s.source, up: s.up, reason: s.reason };
  if (!s.up) logger.warn(fields, `${s.source} source down: ${s.reason}`);
  else if (s.reason) logger.warn(fields, `${s.source} source up, partly: ${s.reason}`);
  else logger.info(fields, `${s.source} source up`);
}

export function createDaemon(config: RunConfig, logger: Logger): Daemon {
  const registry = createRegistry();
  const { index, conntrack, rules, intervals, all } = nodeSources({ ...config, logger });
  const sources: Source[] = [...all];
  let ready = false;
  let server: HttpServer | undefined;
  let stopping: Promise<void> | undefined;

  const capDeps = {
    labelCap: config.labelCap,
    onCapReached: (metric: string) =>
      logger.warn({ metric }, `${metric} reached --label-cap ${config.labelCap}: new label sets count under "other"`),
  };
  const dropsTotal = dropsMetric(registry, capDeps);
  const retransmitsTotal = retransmitsMetric(registry, capDeps);
  const conntrackTotals = conntrackMetrics(registry, { ...capDeps, index, current: () => conntrack.current(), lastUnreplied: () => conntrack.lastUnreplied() });
  const rulesTotals = kubeProxyMetrics(registry, { ...capDeps, problems: () => rules.problemCounts() });
  sourceMetrics(registry, { stats: () => sources.flatMap((s) => s.stats()) });
  intervals.onInterval((list) => {
    for (const iv of list) {
      dropsTotal.add(iv.drops);
      retransmitsTotal.add(iv.retransmits);
      if (iv.conntrack) conntrackTotals.add(iv.conntrack);
      rulesTotals.add(iv.rules);
    }
  });

  return {
    async start() {
      const { host, port } = config.listen;
      server = await startHttp({ host, port, registry, ready: () => ready, logger });
      logger.info({ host, port: server.port }, `serving /metrics, /healthz and /readyz on ${host}:${server.port}`);
      await Promise.all(sources.map((s) => s.start()));
      for (const s of sources.flatMap((src) => src.stats())) logStartup(logger, s);
      if (!stopping) intervals.start();
      ready = true;
      return server;
    },
    stop() {
      stopping ??= (async () => {
        await intervals.stop();
        await Promise.all(sources.map((s) => s.stop()));
        await server?.close();
      })();
      return stopping;
    },
  };
}

/** The process around the daemon: signals, exit codes. */
export async function runDaemon(config: RunConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  const daemon = createDaemon(config, logger);
  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, `${signal}: detaching and exiting`);
    // A stuck close must not keep the pod in Terminating: exit regardless after a second.
    setTimeout(() => process.exit(0), 900).unref();
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  try {
    await daemon.start();
  } catch (err) {
    logger.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`);
    await daemon.stop();
    process.exit(1);
  }
}
