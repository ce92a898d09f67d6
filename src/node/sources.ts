// The node's kernel-side sources (drop tracer, connection tracker, DNS, conntrack, kube-proxy's rules), the scope
// of network namespaces they count, the index the rules' Services go into, and the intervals that read them
// together and attribute what they saw: what `run` and `snapshot` both start.
import type { Logger } from 'pino';
import type { DnsConfig, SourcesConfig } from '../config';
import { ConnectionSource } from '../kernel/connections';
import { DnsSource } from '../kernel/dns';
import { ConntrackSource } from '../kernel/conntrack-source';
import { DropSource } from '../kernel/drops';
import { NetnsScope } from '../kernel/netns-scope';
import { RulesSource } from '../kubeproxy/source';
import type { Source } from '../observe/source';
import type { ClientOf } from '../services/attribute';
import { ServiceIndex } from '../services/index';
import { NodeIntervals } from './interval';

export interface NodeSources {
  index: ServiceIndex;
  drops: DropSource;
  /** absent with --no-connections */
  connections?: ConnectionSource;
  /** absent with --netns-scope all */
  scope?: NetnsScope;
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
  /** keep benign frees flow by flow (snapshot shows them); the daemon never reads them */
  keepBenign?: boolean;
  logger: Logger;
  /** the workload on this node an address is, for the service graph; none standalone */
  clientOf?: ClientOf;
  /** follow DNS: `run` does unless --no-dns */
  dns?: DnsConfig | null;
}

// A netns the scope has not seen is looked for again at most once an interval; the scope is read afresh at
// least every this many intervals, so that a gone netns is forgotten.
const SCOPE_MAX_AGE_INTERVALS = 10;

export function nodeSources(config: NodeSourcesOptions): NodeSources {
  const { logger } = config;
  const index = new ServiceIndex();
  const scope = config.netnsScope === 'pid-namespace'
    ? new NetnsScope({ btfPath: config.btfPath, refreshMs: config.intervalMs, maxAgeMs: SCOPE_MAX_AGE_INTERVALS * config.intervalMs, logger })
    : undefined;
  // the node's intervals drain the tracers, so that drops and their witnesses share an interval
  const drops = new DropSource({ ...config, ...(scope && { scope }) });
  const connections = config.connections ? new ConnectionSource({ btfPath: config.btfPath, maxKeys: config.connections.maxKeys, logger, ...(scope && { scope }) }) : undefined;
  const dns = config.dns ? new DnsSource({ ...config.dns, btfPath: config.btfPath, logger, ...(scope && { scope }) }) : undefined;
  const conntrack = new ConntrackSource({ unrepliedIntervalMs: config.unrepliedIntervalMs, logger });
  const rules = new RulesSource({ logger, fullIntervalMs: config.rulesFullIntervalMs });
  rules.onServices((ports) => index.publish('rules', ports));
  const intervals = new NodeIntervals({
    index, drops, conntrack, rules, intervalMs: config.intervalMs, logger,
    ...(connections && { connections }),
    ...(dns && { dns }),
    ...(config.clientOf && { clientOf: config.clientOf }),
  });
  const all: Source[] = [...(scope ? [scope] : []), drops, ...(connections ? [connections] : []), ...(dns ? [dns] : []), conntrack, rules];
  return { index, drops, ...(connections && { connections }), ...(dns && { dns }), ...(scope && { scope }), conntrack, rules, intervals, all };
}
