// The daemon's node sources and NodeIntervals, pointed at one network namespace, as the daemon wires them: for tests
// that send real packets and assert the Service and mechanism the node's intervals attribute them to.
import assert from 'node:assert/strict';
import pino from 'pino';
import { ConnectionSource } from '../../src/kernel/connections';
import { ConntrackSource } from '../../src/kernel/conntrack-source';
import { DropSource } from '../../src/kernel/drops';
import { DEFAULT_BENIGN_REASONS } from '../../src/kernel/reasons';
import { RulesSource } from '../../src/kubeproxy/source';
import type { AttributedDrop, ClientOf } from '../../src/services/attribute';
import { ServiceIndex } from '../../src/services/index';
import { NodeIntervals, type NodeInterval } from '../../src/node/interval';
import { eventually } from '../helpers/env';

const logger = pino({ level: 'silent' });

export interface Pipeline {
  intervals: NodeIntervals;
  seen: NodeInterval[];
  stop(): Promise<void>;
}

export interface PipelineOptions {
  /** the connection tracker too */
  connections?: boolean;
  /** the workload a client address is, for the service graph */
  clientOf?: ClientOf;
}

/** The sources (all up, or the test fails) and NodeIntervals for the node namespace `netns`. */
export async function pipeline(netns: string, opts: PipelineOptions = {}): Promise<Pipeline> {
  const index = new ServiceIndex();
  const drops = new DropSource({
    btfPath: '', maxFlows: 16384, maxRetransmitFlows: 4096, samplesPerSecond: 0, ringBytes: 4096,
    benignReasons: DEFAULT_BENIGN_REASONS, logger,
  });
  const conntrack = new ConntrackSource({ netns, unrepliedIntervalMs: 0, logger });
  const rules = new RulesSource({ netns, logger });
  rules.onServices((ports) => index.publish('rules', ports));
  const connections = opts.connections ? new ConnectionSource({ btfPath: '', maxKeys: 4096, logger }) : undefined;
  const sources = [drops, conntrack, rules, ...(connections ? [connections] : [])];
  await Promise.all(sources.map((x) => x.start()));
  for (const s of sources.flatMap((x) => x.stats())) assert.equal(s.up, true, `${s.source} up: ${s.reason}`);
  const intervals = new NodeIntervals({
    index, drops, conntrack, rules, intervalMs: 0, netns, logger, ...(connections && { connections }), ...(opts.clientOf && { clientOf: opts.clientOf }),
  });
  const seen: NodeInterval[] = [];
  intervals.onInterval((list) => seen.push(...list));
  await intervals.collect(); // the first reading counts nothing: what came before is not ours
  seen.length = 0;
  return {
    intervals,
    seen,
    async stop() {
      await intervals.stop();
      await Promise.all(sources.map((x) => x.stop()));
    },
  };
}

/** Loss drops attributed to the Service named `name` (in `namespace`, when given). */
export const lossOf = (p: Pipeline, name: string, namespace?: string) =>
  p.seen.flatMap((iv) => iv.drops).filter((d) => d.loss && d.service?.name === name && (namespace === undefined || d.service.namespace === namespace));

export const packets = (drops: AttributedDrop[]) => drops.reduce((n, d) => n + d.packets, 0);

/** Collects intervals until `done` holds (packets may still be in a softirq when the sender returns). */
export async function until(p: Pipeline, done: () => boolean, what: string): Promise<void> {
  await eventually(async () => {
    await p.intervals.collect();
    return done();
  }, what, 8000);
}
