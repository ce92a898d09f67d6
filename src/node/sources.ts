// The node's kernel-side sources (drop tracer, conntrack, kube-proxy's rules), the index the rules' Services go
// into, and the intervals that read them together and attribute what they saw: what `run` and `snapshot` both start.
import type { Logger } from 'pino';
import type { SourcesConfig } from '../config';
import { ConntrackSource } from '../kernel/conntrack-source';
import { DropSource } from '../kernel/drops';
import { RulesSource } from '../kubeproxy/source';
import type { Source } from '../observe/source';
import type { ClientOf } from '../services/attribute';
import { ServiceIndex } from '../services/index';
import { NodeIntervals } from './interval';

export interface NodeSources {
  index: ServiceIndex;
  drops: DropSource;
  conntrack: ConntrackSource;
  rules: RulesSource;
  intervals: NodeIntervals;
  /** in start-up order */
  all: Source[];
}

export interface NodeSourcesOptions extends SourcesConfig {
  samplesPerSecond: number;
  ringBytes: number;
  logger: Logger;
  /** the workload on this node an address is, for the service graph; none standalone */
  clientOf?: ClientOf;
}

export function nodeSources(config: NodeSourcesOptions): NodeSources {
  const { logger } = config;
  const index = new ServiceIndex();
  // the node's intervals drain the tracer, so that drops and their witnesses share an interval
  const drops = new DropSource(config);
  const conntrack = new ConntrackSource({ unrepliedIntervalMs: config.unrepliedIntervalMs, logger });
  const rules = new RulesSource({ logger, fullIntervalMs: config.rulesFullIntervalMs });
  rules.onServices((ports) => index.publish('rules', ports));
  const intervals = new NodeIntervals({ index, drops, conntrack, rules, intervalMs: config.intervalMs, logger, ...(config.clientOf && { clientOf: config.clientOf }) });
  return { index, drops, conntrack, rules, intervals, all: [drops, conntrack, rules] };
}
