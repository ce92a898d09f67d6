// `flapwatch run`: HTTP first (so /metrics and /healthz serve even while a source is down), then the sources,
// one start-up line each. Kernel intervals, health results and listen overflows flow into the correlator and
// the metrics; incidents into the log. SIGTERM/SIGINT detach and exit 0.
import type { Logger } from 'pino';
import type { RunConfig } from '../config';
import { askPeers } from '../cluster/peers';
import { Correlator } from '../correlate/correlator';
import { createLogger } from '../log';
import { nodeSources } from '../node/sources';
import { describe } from '../observe/errors';
import type { Source, SourceStats } from '../observe/source';
import { apiRoutes } from '../report/api';
import { startHttp, type HttpServer } from '../report/http';
import { daemonMetrics } from '../report/metrics/index';
import { createRegistry } from '../report/metrics/registry';
import type { ClientOf } from '../services/attribute';
import { clientsOf, workloadServices } from './clients';
import { feed, readBy } from './feed';
import { healthSources } from './health-sources';

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

// Judgements wait this long past a window for evidence that does not come (a kernel source down).
const MAX_WAIT_MS = 5000;

export function createDaemon(config: RunConfig, logger: Logger): Daemon {
  const registry = createRegistry();
  // the pods that send a Service's packets are known once the API source exists, made after the node's sources
  let clientOf: ClientOf = () => undefined;
  const node = nodeSources({ ...config, logger, clientOf: (ip) => clientOf(ip) });
  const { index } = node;
  // overflows are read on a slow interval and after every failure's window (below); the correlator reaches
  // one interval past each window
  const listenIntervalMs = 5 * config.intervalMs;
  const health = healthSources({ ...config, index, listenIntervalMs, logger });
  clientOf = clientsOf(health.kube);
  const sources: Source[] = [...node.all, ...health.all];
  const correlator = new Correlator({
    index,
    pods: health.podLookup,
    slackMs: config.slackMs,
    maxWaitMs: MAX_WAIT_MS + config.intervalMs,
    sourcePrecisionMs: { event: 1000 }, // Event timestamps are whole seconds
    historyMs: config.historyMs,
    onHost: (ip) => health.listen?.ownsAddress(ip) ?? false,
    node: config.nodeName,
    ...(config.peers && { askPeers: askPeers({ index, ...config.peers }) }),
    maxItemsPerInterval: 2000,
    maxIncidents: 500,
    ...(health.listen && { listenIntervalMs }),
    ...(health.cpu && { cpuIntervalMs: listenIntervalMs }),
    readBy: (at) => readBy(health, at),
    onError: (err) => logger.error({ err }, 'an incident subscriber failed'),
  });
  const metrics = daemonMetrics(registry, {
    labelCap: config.labelCap,
    onCapReached: (metric: string) => logger.warn({ metric }, `${metric} reached --label-cap ${config.labelCap}: new label sets count under "other"`),
    stats: () => sources.flatMap((s) => s.stats()),
    conntrack: () => node.conntrack.current(),
    ruleProblems: () => node.rules.problemCounts(),
    ruleMissing: () => node.rules.missingPieces(),
    probeTotals: () => health.active?.totals(),
    mapSizes: () => node.drops.mapSizes(),
    workloads: () => workloadServices(health.pods(), index),
  });
  feed(node, health, correlator, metrics, logger);
  const judge = setInterval(() => correlator.judgeReady(Date.now()), 1000);
  judge.unref();

  let ready = false;
  let server: HttpServer | undefined;
  let stopping: Promise<void> | undefined;
  return {
    async start() {
      const { host, port } = config.listen;
      server = await startHttp({ host, port, registry, ready: () => ready, logger, json: apiRoutes(correlator, index, config.nodeName) });
      logger.info({ host, port: server.port }, `serving /metrics, /healthz, /readyz, /incidents and /services on ${host}:${server.port}`);
      // the kernel side first: its start-up garbage (BTF, kallsyms) is gone before a Kubernetes sync makes its own
      for (const group of [node.all, health.all]) await Promise.all(group.map((s) => s.start()));
      for (const s of sources.flatMap((src) => src.stats())) logStartup(logger, s);
      if (!stopping) node.intervals.start();
      ready = true;
      return server;
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(judge);
        await node.intervals.stop();
        await Promise.all(sources.map((s) => s.stop()));
        await server?.close();
      })();
      return stopping;
    },
  };
}

/** The process around the daemon: signals, exit codes. */
export async function runDaemon(config: RunConfig): Promise<void> {
  const logger = createLogger(config.logLevel, 1, config.logFormat);
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
    logger.fatal({ err }, `cannot start: ${describe(err)}`);
    await daemon.stop();
    process.exit(1);
  }
}
