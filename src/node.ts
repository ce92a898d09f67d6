// The node's kernel-side sources (drop tracer, conntrack, kube-proxy's rules) and the intervals that read
// them together and attribute what they saw to Services: what `run` and `snapshot` both start.
import type { Logger } from 'pino';
import type { SourcesConfig } from './config';
import { ConntrackSource } from './kernel/conntrack-source';
import { DropSource } from './kernel/drops';
import { RulesSource } from './kubeproxy/source';
import type { Source } from './observe/types';
import { ServiceIndex } from './services/index';
import { NodeIntervals } from './services/interval';

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
}

export function nodeSources(config: NodeSourcesOptions): NodeSources {
  const { logger } = config;
  const index = new ServiceIndex();
  // NodeIntervals drains the tracer, so that drops and their witnesses share an interval
  const drops = new DropSource(config);
  const conntrack = new ConntrackSource({ unrepliedIntervalMs: config.unrepliedIntervalMs, logger });
  const rules = new RulesSource({ index, logger, fullIntervalMs: config.rulesFullIntervalMs });
  const intervals = new NodeIntervals({ index, drops, conntrack, rules, intervalMs: config.intervalMs, logger });
  return { index, drops, conntrack, rules, intervals, all: [drops, conntrack, rules] };
}
