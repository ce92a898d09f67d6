// The model from kube-proxy's nftables mode: `nft -j list table ip kube-proxy` (and ip6), element by element
// (pkg/proxy/nftables/proxier.go, v1.29–1.33). Service and endpoint chains are named
// `service-HASH8-ns/svc/proto/port`, `endpoint-HASH8-…__IP/port`; drops live in verdict maps whose
// elements carry the Service's name as a comment. Base chains are not looked up by name: releases renamed them.
// The newest releases write no endpoint chains (but for session affinity): a Service chain DNATs through a map.
import { parseNftChainName } from './hash';
import { addUnique, destination, ModelSink, type DropKind, type Family, type RulesModel } from './model';

type Json = Record<string, unknown>;

export interface MapElement {
  key: (string | number)[];
  comment?: string;
  /** `goto`, `jump`, `drop`, `accept`, … */
  verdict: string;
  target?: string;
}

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** One element of an nft JSON set or map, unwrapped: `[{elem: {val, comment}} | val, verdict]`. */
export function mapElement(raw: unknown): MapElement | null {
  const [k, v] = Array.isArray(raw) ? raw : [raw, undefined];
  const wrapped = obj(obj(k)?.elem);
  const val = wrapped ? wrapped.val : k;
  const concat = obj(val)?.concat;
  const key = (Array.isArray(concat) ? concat : [val]).filter((x): x is string | number => typeof x === 'string' || typeof x === 'number');
  const verdictObj = obj(v);
  const verdict = verdictObj ? Object.keys(verdictObj)[0] ?? '' : '';
  const target = obj(verdictObj?.[verdict])?.target;
  return {
    key,
    ...(typeof wrapped?.comment === 'string' ? { comment: wrapped.comment } : {}),
    verdict,
    ...(typeof target === 'string' ? { target } : {}),
  };
}

const endpoint = (addr: string, port: unknown) => `${addr.includes(':') ? `[${addr}]` : addr}:${port ?? ''}`;

/**
 * A DNAT's destinations: `dnat to IP:port` in an endpoint chain, or, where kube-proxy writes no endpoint chains
 * (its newest nftables mode), `dnat ip addr . port to numgen random mod N map { 0 : IP . port, … }` in the
 * Service chain itself.
 */
function dnatTargets(d: Json): string[] {
  if (typeof d.addr === 'string') return [endpoint(d.addr, d.port)];
  const set = obj(obj(obj(d.addr)?.map)?.data)?.set;
  const out: string[] = [];
  for (const pair of Array.isArray(set) ? set : []) {
    const concat = obj(Array.isArray(pair) ? pair[1] : undefined)?.concat;
    if (Array.isArray(concat) && typeof concat[0] === 'string') out.push(endpoint(concat[0], concat[1]));
  }
  return out;
}

/** The verdict a rule ends with: `drop`, `reject`, `goto`, … ('' if none), and a DNAT's destinations. */
export function ruleVerdict(expr: unknown): { verdict: string; dnat?: string[] } {
  let verdict = '';
  let dnat: string[] | undefined;
  for (const e of Array.isArray(expr) ? expr : []) {
    const o = obj(e);
    if (!o) continue;
    for (const v of ['drop', 'reject', 'accept', 'goto', 'jump', 'return', 'queue']) if (v in o) verdict = v;
    if (obj(o.xt)?.type === 'target' && obj(o.xt)?.name === 'REJECT') verdict = 'reject';
    const d = obj(o.dnat);
    if (d) dnat = dnatTargets(d);
  }
  return { verdict, ...(dnat?.length ? { dnat } : {}) };
}

const FAMILIES: Record<string, Family> = { ip: 'ipv4', ip6: 'ipv6' };

export class NftModelBuilder {
  private readonly sink = new ModelSink();
  private readonly clusterIPs = new Set<string>();
  /** map elements, resolved in finish(): maps are listed before the chains they point to */
  private readonly maps: [family: Family, map: string, element: MapElement][] = [];
  private readonly firewallDrops: [family: Family, chain: string][] = [];

  /** One element of the listing's array. */
  element(el: Json): void {
    const set = obj(el.set) ?? obj(el.map);
    const family = FAMILIES[String(set?.family ?? obj(el.rule)?.family ?? obj(el.chain)?.family)] ?? 'ipv4';
    if (set && typeof set.name === 'string') {
      for (const raw of Array.isArray(set.elem) ? set.elem : []) {
        const e = mapElement(raw);
        if (!e) continue;
        if (set.name === 'cluster-ips' && typeof e.key[0] === 'string') this.clusterIPs.add(e.key[0]);
        else this.maps.push([family, set.name, e]);
      }
    }
    const chain = obj(el.chain);
    if (chain && typeof chain.name === 'string') {
      const parsed = parseNftChainName(chain.name);
      if (parsed && !parsed.verified) this.sink.problem('chain_hash_mismatch', chain.name);
    }
    const rule = obj(el.rule);
    if (rule && typeof rule.chain === 'string') this.rule(family, rule.chain, ruleVerdict(rule.expr));
  }

  private rule(family: Family, chain: string, { verdict, dnat }: { verdict: string; dnat?: string[] }): void {
    const parsed = parseNftChainName(chain);
    if ((parsed?.kind === 'endpoint' || parsed?.kind === 'service') && dnat) {
      const s = this.sink.service(parsed.servicePortName, parsed.protocol);
      for (const ep of dnat) addUnique(s, 'endpoints', ep);
    } else if (parsed?.kind === 'firewall' && verdict === 'drop') {
      this.firewallDrops.push([family, chain]);
    } else if (chain === 'cluster-ips-check' && (verdict === 'reject' || verdict === 'drop')) {
      const kind: DropKind = verdict === 'reject' ? 'reject_invalid_port' : 'drop_unallocated_ip';
      this.sink.drop({ kind, family, table: 'kube-proxy', chain, destination: '' });
    }
  }

  /** The end of one listing: whether it was complete, and how many of its elements were not JSON. */
  noteListing(complete: boolean, badElements: number): void {
    if (!complete) this.sink.problem('truncated', 'the nft listing ended inside its JSON');
    for (let i = 0; i < badElements; i++) this.sink.problem('bad_json', 'an element of the nft listing is not JSON');
  }

  finish(): RulesModel {
    const { sink } = this;
    const dest = (key: MapElement['key']) => (key.length === 2 ? destination(undefined, key[1], String(key[0])) : destination(String(key[0]), key[2], String(key[1])));
    // firewall chain → its load-balancer destination; other external destinations may be external IPs
    const firewalled = new Map(this.maps.filter(([, map, e]) => map === 'firewall-ips' && e.target).map(([, , e]) => [e.target!, dest(e.key)]));
    const lbs = new Set(firewalled.values());
    for (const [family, map, e] of this.maps) {
      const [ip, protocol, port] = e.key.length === 2 ? [undefined, ...e.key] : e.key;
      const name = e.comment ?? (e.target ? parseNftChainName(e.target)?.servicePortName : undefined);
      if (!name) continue;
      const s = sink.service(name, String(protocol));
      const d = dest(e.key);
      if (ip === undefined) s.nodePort = Number(port);
      else {
        s.port = Number(port);
        addUnique(s, this.clusterIPs.has(String(ip)) ? 'clusterIPs' : lbs.has(d) ? 'loadBalancerIPs' : 'externalIPs', String(ip));
      }
      if (map === 'no-endpoint-services' || map === 'no-endpoint-nodeports') {
        const kind: DropKind = e.target === 'reject-chain' ? 'reject_no_endpoints' : 'drop_no_local_endpoints';
        if (e.verdict === 'drop' || e.target === 'reject-chain') sink.drop({ kind, service: s.name, family, table: 'kube-proxy', chain: map, destination: d });
      }
    }
    for (const [family, chain] of this.firewallDrops) {
      const parsed = parseNftChainName(chain)!;
      sink.drop({ kind: 'firewall_drop', service: sink.service(parsed.servicePortName).name, family, table: 'kube-proxy', chain, destination: firewalled.get(chain) ?? '' });
    }
    return sink.model('nftables');
  }
}
