import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * Our registry, with the standard process_* and nodejs_* metrics under the names operators expect. The event
 * loop lag is sampled ten times less often than prom-client's default: its timer was most of what an idle daemon
 * cost (bench/RESULTS.md, idle cost).
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return registry;
}
