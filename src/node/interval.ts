// NodeIntervals: the node's clock. Every interval, one look at the node — the drops, retransmits, connects and DNS
// drained from the kernel, the conntrack stats and the kube-proxy rule counters read at the same moment — attributed to
// Services. The sources are read together so that a drop and its witnesses (a stat delta, a REJECT counter)
// land in the same interval; never two intervals at once.
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ConntrackGroup } from '../kernel/conntrack';
import type { ConnectionSource } from '../kernel/connections';
import type { ConntrackReading, ConntrackSource } from '../kernel/conntrack-source';
import type { DnsSource } from '../kernel/dns';
import type { DropSource } from '../kernel/drops';
import type { RuleRise } from '../kubeproxy/rises';
import type { RulesReading, RulesSource } from '../kubeproxy/source';
import type { DnsObservation } from '../observe/dns';
import type { ConnectionObservation, DropObservation, RetransmitObservation } from '../observe/kernel';
import { Listeners } from '../observe/listeners';
import { Periodic } from '../observe/periodic';
import {
  attributeConnection, attributeDns, attributeDrop, attributeGroup, attributeRetransmit, type AttributedConnection,
  type AttributedDns, type AttributedDrop, type AttributedGroup, type AttributedRetransmit, type ClientOf,
  type IntervalEvidence,
} from '../services/attribute';
import type { ServiceIndex } from '../services/index';

export interface NodeInterval {
  /** ms since the epoch: the interval is (start, end] */
  start: number;
  end: number;
  /** loss drops and benign frees alike; `loss` tells them apart */
  drops: AttributedDrop[];
  retransmits: AttributedRetransmit[];
  /** TCP connects by client and destination; [] without a connection tracker */
  connections: AttributedConnection[];
  /** each client's DNS to each server; absent when DNS is not followed */
  dns?: AttributedDns[];
  /** absent when conntrack could not be read */
  conntrack?: ConntrackReading;
  /** flows still waiting for a reply, when this interval dumped them */
  unreplied?: AttributedGroup<ConntrackGroup>[];
  /** flows that died without a reply in the interval */
  diedUnreplied: AttributedGroup<ConntrackGroup>[];
  rules: RuleRise[];
}

export interface NodeIntervalsOptions {
  index: ServiceIndex;
  drops: DropSource;
  connections?: ConnectionSource;
  dns?: DnsSource;
  conntrack?: ConntrackSource;
  rules?: RulesSource;
  intervalMs: number;
  /** the node's netns (a name under /run/netns); absent = the daemon's own */
  netns?: string;
  /** the workload on this node an address is, for the service graph */
  clientOf?: ClientOf;
  logger: Logger;
  now?: () => number;
}

const CT_WITNESSES = ['drop', 'invalid', 'insert_failed'] as const;

function ruleLocation(r: RulesReading | undefined): Pick<IntervalEvidence, 'ruleLocation'> {
  const d = r?.detection;
  if (d?.mode === 'nftables' || (d?.mode === 'iptables' && d.backend === 'nft')) return { ruleLocation: 'nft_do_chain' };
  if (d?.mode === 'iptables' && d.backend === 'legacy') return { ruleLocation: 'nf_hook_slow' };
  return {};
}

function netnsInode(netns?: string): number {
  return statSync(netns ? `/run/netns/${netns}` : '/proc/self/ns/net').ino;
}

export class NodeIntervals {
  private readonly listeners: Listeners<NodeInterval>;
  private readonly netns: number;
  private pendingDrops: DropObservation[] = [];
  private pendingRetransmits: RetransmitObservation[] = [];
  private pendingConnections: ConnectionObservation[] = [];
  private pendingDns: DnsObservation[] = [];
  private last: number;
  /** this interval's witnesses, for the next one's drops (IntervalEvidence.before) */
  private before?: IntervalEvidence['before'];
  private readonly periodic: Periodic | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: NodeIntervalsOptions) {
    this.listeners = new Listeners((err) => opts.logger.error({ err }, 'an interval subscriber failed'));
    this.netns = netnsInode(opts.netns);
    this.last = this.now();
    opts.drops.onDrops((items) => this.pendingDrops.push(...items));
    opts.drops.onRetransmits((items) => this.pendingRetransmits.push(...items));
    opts.connections?.onConnections((items) => this.pendingConnections.push(...items));
    opts.dns?.onDns((items) => this.pendingDns.push(...items));
    const onError = (err: unknown) => opts.logger.error({ err }, 'an interval failed');
    this.periodic = opts.intervalMs > 0 ? new Periodic(opts.intervalMs, () => this.collect(), 'intervals', onError) : undefined;
  }

  onInterval(listener: (intervals: NodeInterval[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** An interval now, then one every intervalMs until stop(); without an interval, only collect() collects. */
  start(): void {
    void this.periodic?.start();
  }

  /** One interval now, after any in flight; resolves when its listeners have run. */
  collect(): Promise<void> {
    this.running = this.running.then(() => this.collectOnce());
    return this.running;
  }

  async stop(): Promise<void> {
    await this.periodic?.stop();
    await this.running;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async collectOnce(): Promise<void> {
    // Drops first, then their witnesses: a drop's stat and rule counter rise before it is freed, so every drop
    // drained has them in the reads that follow. Read side by side, a drop between the stat read and the drain
    // came without its witness (which went to the next interval) and could not be told from table-full.
    await Promise.all([this.opts.drops.drain(), this.opts.connections?.drain(), this.opts.dns?.drain()]);
    const [conntrack, rulesReading] = await Promise.all([this.opts.conntrack?.read(), this.opts.rules?.read()]);
    const end = this.now();
    const drops = this.pendingDrops;
    const retransmits = this.pendingRetransmits;
    const connections = this.pendingConnections;
    const dns = this.pendingDns;
    this.pendingDrops = [];
    this.pendingRetransmits = [];
    this.pendingConnections = [];
    this.pendingDns = [];
    const rules = rulesReading?.rises ?? [];
    const evidence: IntervalEvidence = { netns: this.netns, conntrack: {}, rules, ...ruleLocation(rulesReading), ...(this.before && { before: this.before }) };
    for (const k of CT_WITNESSES) if (conntrack?.deltas[k] !== undefined) evidence.conntrack[k] = conntrack.deltas[k];
    this.before = { conntrack: evidence.conntrack, rules };
    const { index } = this.opts;
    const interval: NodeInterval = {
      start: this.last,
      end,
      drops: drops.map((d) => attributeDrop(index, d, evidence, this.opts.clientOf)),
      retransmits: retransmits.map((r) => attributeRetransmit(index, r, this.opts.clientOf)),
      connections: connections.map((c) => attributeConnection(index, c, this.opts.clientOf)),
      ...(this.opts.dns && { dns: dns.map((o) => attributeDns(index, o, this.opts.clientOf)) }),
      rules,
      ...(conntrack && { conntrack }),
      ...(conntrack?.unreplied && { unreplied: conntrack.unreplied.map((g) => attributeGroup(index, g)) }),
      diedUnreplied: (conntrack?.diedUnreplied ?? []).map((g) => attributeGroup(index, g)),
    };
    this.last = end;
    this.listeners.emit([interval]);
  }
}
