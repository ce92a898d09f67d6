// One model of kube-proxy's rules, whichever mode wrote them: Service ports with their addresses and
// endpoints, and the rules that drop or reject their packets, with counters where the mode has them.
import { parseHostPort } from '../observe/net';
import { parseServicePortName, type EndpointView, type ServicePort } from '../observe/objects';
import { keepHiddenClass } from './hidden-classes';
import type { Problems } from './rule';

export type Family = 'ipv4' | 'ipv6';

export const DROP_KINDS = [
  'reject_no_endpoints', // "<svc> has no endpoints" REJECT; nftables: no-endpoint-services → goto reject-chain
  'drop_no_local_endpoints', // "<svc> has no local endpoints" DROP (before 1.24: -j KUBE-MARK-DROP in KUBE-XLB-*)
  'drop_invalid', // KUBE-FORWARD ctstate INVALID DROP: node-wide
  'firewall_drop', // loadBalancerSourceRanges: KUBE-PROXY-FIREWALL, nftables firewall-* chains
  'drop_localnet', // KUBE-FIREWALL "block incoming localnet connections": node-wide
  'drop_marked', // kubelet's KUBE-FIREWALL mark 0x8000 DROP (KUBE-MARK-DROP), before 1.28: node-wide
  'reject_invalid_port', // nftables cluster-ips-check: a ClusterIP on a port no Service has: node-wide
  'drop_unallocated_ip', // nftables cluster-ips-check: an address in the Service CIDRs nobody has: node-wide
] as const;
export type DropKind = (typeof DROP_KINDS)[number];

/**
 * A Service port as the builders assemble it, rule by rule, in the rules' own terms; model() turns each into a
 * ServicePort.
 */
export interface PortRecord {
  /** `ns/svc:port`, or `ns/svc` for an unnamed port */
  name: string;
  /** '' until a rule says it */
  protocol: string;
  /** one per family on dual-stack Services */
  clusterIPs: string[];
  port?: number;
  /** for a Service without endpoints the rules do not tell external IPs from load-balancer IPs: both are here */
  externalIPs: string[];
  loadBalancerIPs: string[];
  nodePort?: number;
  /** `IP:port`, `[IPv6]:port` */
  endpoints: string[];
}

export interface DropRule {
  kind: DropKind;
  /** `ns/svc:port`; absent for node-wide rules */
  service?: string;
  family: Family;
  table: string;
  /** the chain holding the rule (nftables mode: the verdict map for no-endpoint drops) */
  chain: string;
  /** what the rule matches: `IP:port/proto`, `*:nodePort/proto`, or '' for node-wide rules */
  destination: string;
  /** absent in nftables mode, whose rules have no counters */
  packets?: number;
  bytes?: number;
  /** identity across readings, for counter accounting */
  key: string;
  /** changes when the rule was re-created (nft rule handle), which resets its counters */
  instance?: string;
}

export interface RulesModel {
  mode: 'iptables' | 'nftables';
  /** by `ns/svc:port` */
  services: Map<string, ServicePort>;
  drops: DropRule[];
  problems: Problems;
  /** the first instance of each kind of problem */
  examples: Record<string, string>;
}

/** A copy that does not keep the dump's text alive: V8 substrings point into their parent string. */
export function own(s: string): string {
  return (' ' + s).slice(1);
}

export function destination(ip: string | undefined, port: string | number | undefined, protocol: string | undefined): string {
  const host = ip === undefined ? '*' : ip.includes(':') ? `[${ip}]` : ip;
  return `${host}:${port ?? '*'}/${protocol ?? '*'}`;
}

export function dropKey(d: Pick<DropRule, 'family' | 'kind' | 'service' | 'chain' | 'destination'>): string {
  return `${d.family} ${d.kind} ${d.service ?? '-'} ${d.chain} ${d.destination}`;
}

// What a record's lists start as: one empty array for all (frozen: a list is replaced to add to it), as most
// Service ports leave two of the four empty.
const NONE = Object.freeze([]) as unknown as string[];

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** The record as the rest of the daemon sees a Service port; undefined when the rules never said enough. */
function servicePort(r: PortRecord): ServicePort | undefined {
  const name = parseServicePortName(r.name);
  const protocol = r.protocol.toLowerCase();
  if (!name || !PROTOCOLS.has(protocol)) return undefined;
  // a drop rule names an address without saying which kind; another rule may have said it is a load balancer's
  if (r.loadBalancerIPs.length) r.externalIPs = r.externalIPs.filter((ip) => !r.loadBalancerIPs.includes(ip));
  const endpoints: EndpointView[] = [];
  for (const e of r.endpoints.length > 1 ? r.endpoints.sort() : r.endpoints) {
    const view = parseHostPort(e);
    if (view) endpoints.push(view);
  }
  return {
    ...name,
    protocol: protocol as ServicePort['protocol'],
    ...(r.port !== undefined && { port: r.port }),
    clusterIPs: r.clusterIPs.slice(),
    externalIPs: r.externalIPs.slice(),
    loadBalancerIPs: r.loadBalancerIPs.slice(),
    ...(r.nodePort !== undefined && { nodePort: r.nodePort }),
    endpoints,
  };
}

/** Builds a model; every mode's reader fills one. */
export class ModelSink {
  readonly services = new Map<string, PortRecord>();
  readonly drops: DropRule[] = [];
  readonly problems: Problems = {};
  readonly examples: Record<string, string> = {};

  /** The Service port `name`, made on first mention; the strings are kept as given (the parsers' own, not slices of a dump). */
  service(name: string, protocol?: string): PortRecord {
    let s = this.services.get(name);
    if (!s) {
      s = { name, protocol: protocol ?? '', clusterIPs: NONE, externalIPs: NONE, loadBalancerIPs: NONE, endpoints: NONE };
      this.services.set(name, s);
    } else if (!s.protocol && protocol) s.protocol = protocol;
    return s;
  }

  drop(d: Omit<DropRule, 'key'>): DropRule {
    const rule: DropRule = { ...d, key: dropKey(d) };
    this.drops.push(rule);
    return rule;
  }

  problem(kind: string, example: string): void {
    this.problems[kind] = (this.problems[kind] ?? 0) + 1;
    this.examples[kind] ??= example;
  }

  model(mode: RulesModel['mode']): RulesModel {
    const services = new Map<string, ServicePort>();
    for (const [name, r] of this.services) {
      const port = servicePort(r);
      if (port) services.set(name, port);
      else this.problem('incomplete_service', `${name}: no protocol or namespace in the rules`);
    }
    return { mode, services, drops: this.drops, problems: this.problems, examples: this.examples };
  }
}

// A Service port gets its port and node port after it is made, and those hidden classes outlive a read only while
// some object has them: one of each shape, kept, keeps the builders' optimized code (see hidden-classes.ts).
const shapes = new ModelSink();
for (const [name, first, then] of [['a', 'port', 'nodePort'], ['b', 'nodePort', 'port']] as const) {
  const s = shapes.service(name, 'tcp');
  s[first] = 0;
  s[then] = 0;
}
keepHiddenClass(shapes);

/** Adds `value` to the record's list unless it is there; the strings are copied (see own). */
export function addUnique(s: PortRecord, list: 'clusterIPs' | 'externalIPs' | 'loadBalancerIPs' | 'endpoints', value: string): void {
  if (s[list].includes(value)) return;
  if (s[list] === NONE) s[list] = [own(value)];
  else s[list].push(own(value));
}

/** `IP:port/proto` (ClusterIP, external and load-balancer IPs) and `*:nodePort/proto` → `ns/svc:port`. */
export function indexDestinations(model: RulesModel): Map<string, string> {
  const index = new Map<string, string>();
  for (const [name, s] of model.services) {
    for (const ip of [...s.clusterIPs, ...s.externalIPs, ...s.loadBalancerIPs]) index.set(destination(ip, s.port, s.protocol), name);
    if (s.nodePort !== undefined) index.set(destination(undefined, s.nodePort, s.protocol), name);
  }
  return index;
}
