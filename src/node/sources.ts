// The node's kernel-side sources (drop tracer, DNS, conntrack, kube-proxy's rules), the index the rules' Services go
// into, and the intervals that read them together and attribute what they saw: what `run` and `snapshot` both start.
import type { Logger } from 'pino';
import type { DnsConfig, SourcesConfig } from '../config';
import { DnsSource } from '../kernel/dns';
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
  /** absent when DNS is not followed */
  dns?: DnsSource;
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
  /** follow DNS: `run` does unless --no-dns */
  dns?: DnsConfig | null;
}

export function nodeSources(config: NodeSourcesOptions): NodeSources {
  const { logger } = config;
  const index = new ServiceIndex();
  // the node's intervals drain the tracer, so that drops and their witnesses share an interval
  const drops = new DropSource(config);
  const dns = config.dns ? new DnsSource({ ...config.dns, btfPath: config.btfPath, logger }) : undefined;
  const conntrack = new ConntrackSource({ unrepliedIntervalMs: config.unrepliedIntervalMs, logger });
  const rules = new RulesSource({ logger, fullIntervalMs: config.rulesFullIntervalMs });
  rules.onServices((ports) => index.publish('rules', ports));
  const intervals = new NodeIntervals({
    index, drops, conntrack, rules, intervalMs: config.intervalMs, logger, ...(dns && { dns }), ...(config.clientOf && { clientOf: config.clientOf }),
  });
  return { index, drops, ...(dns && { dns }), conntrack, rules, intervals, all: [drops, ...(dns ? [dns] : []), conntrack, rules] };
}
