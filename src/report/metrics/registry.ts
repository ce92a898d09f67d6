import { collectDefaultMetrics } from 'prom-client';
import { TextRegistry } from './text-registry';

/**
 * Our registry, with the standard process_* and nodejs_* metrics under the names operators expect. The event
 * loop lag is sampled ten times less often than prom-client's default: its timer was most of what an idle daemon
 * cost (bench/RESULTS.md, idle cost).
 */
export function createRegistry(): TextRegistry {
  const registry = new TextRegistry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return registry;
}
