import { collectDefaultMetrics, Registry } from 'prom-client';

/** Our registry, with the standard process_* and nodejs_* metrics under the names operators expect. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
