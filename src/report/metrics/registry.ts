import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * Our registry, with the standard process_* and nodejs_* metrics under the names operators expect. The event
 * loop lag is sampled every 100 ms, not prom-client's 10: its timer woke the daemon 100 times a second, most of
 * what an idle daemon cost.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return registry;
}
