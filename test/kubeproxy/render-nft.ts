// Writes rules as kube-proxy's nftables proxier does (pkg/proxy/nftables/proxier.go, v1.31–1.33: setupNFTables,
// syncProxyRules, writeServiceToEndpointRules), in knftables' `nft -f` form. One difference: priorities are
// numeric (dstnat-10 = -110), because nft 1.0.6 refuses `dstnat` outside prerouting.
import { nftEndpointRest, nftHashAndTruncate, nftServiceRest } from '../../src/kubeproxy/hash';
import { categorize, endpointString, servicePortName, type RenderOptions, type RenderService } from './render';

export interface NftRenderOptions extends Pick<RenderOptions, 'clusterCIDR'> {
  family?: 'ip' | 'ip6';
  /** for cluster-ips-check's "Drop traffic to unallocated ClusterIPs" */
  serviceCIDRs?: string[];
}

const BASE_CHAINS: [name: string, type: string, hook: string, priority: number][] = [
  ['filter-prerouting', 'filter', 'prerouting', -110],
  ['filter-input', 'filter', 'input', -110],
  ['filter-forward', 'filter', 'forward', -110],
  ['filter-output', 'filter', 'output', -110],
  ['filter-output-post-dnat', 'filter', 'output', -90],
  ['nat-prerouting', 'nat', 'prerouting', -100],
  ['nat-output', 'nat', 'output', -100],
  ['nat-postrouting', 'nat', 'postrouting', 100],
];

const JUMPS: [to: string, from: string, extra: string][] = [
  ['nodeport-endpoints-check', 'filter-input', 'ct state new '],
  ['service-endpoints-check', 'filter-input', 'ct state new '],
  ['service-endpoints-check', 'filter-forward', 'ct state new '],
  ['service-endpoints-check', 'filter-output', 'ct state new '],
  ['firewall-check', 'filter-prerouting', 'ct state new '],
  ['firewall-check', 'filter-output', 'ct state new '],
  ['services', 'nat-output', ''],
  ['services', 'nat-prerouting', ''],
  ['masquerading', 'nat-postrouting', ''],
  ['cluster-ips-check', 'filter-forward', 'ct state new '],
  ['cluster-ips-check', 'filter-output-post-dnat', 'ct state new '],
];

/** `nft -f` input creating table `<family> kube-proxy` from scratch. */
export function renderNft(services: readonly RenderService[], opts: NftRenderOptions = {}): string {
  const fam = opts.family ?? 'ip';
  const addr = fam === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
  const noLocalhost = fam === 'ip' ? 'ip daddr != 127.0.0.0/8' : 'ip6 daddr != ::1';
  const t = `${fam} kube-proxy`;
  const out: string[] = [`add table ${t} { comment "rules for kube-proxy" ; }`];
  const chain = (name: string, extra = '') => out.push(`add chain ${t} ${name}${extra}`);
  const rule = (ch: string, text: string) => out.push(`add rule ${t} ${ch} ${text}`);
  const element = (set: string, text: string) => out.push(`add element ${t} ${set} { ${text} }`);
  const vmap = (name: string, key: string, comment: string) =>
    out.push(`add map ${t} ${name} { type ${key} : verdict ; comment "${comment}" ; }`);

  for (const [name, type, hook, prio] of BASE_CHAINS) chain(name, ` { type ${type} hook ${hook} priority ${prio} ; }`);
  for (const name of new Set([...JUMPS.map((j) => j[0]), 'mark-for-masquerade'])) chain(name);
  for (const [to, from, extra] of JUMPS) rule(from, `${extra}jump ${to}`);
  rule('mark-for-masquerade', 'mark set mark or 0x4000');
  rule('masquerading', 'mark and 0x4000 == 0 return');
  rule('masquerading', 'mark set mark xor 0x4000');
  rule('masquerading', 'masquerade fully-random');
  out.push(`add set ${t} cluster-ips { type ${addr} ; comment "Active ClusterIPs" ; }`);
  rule('cluster-ips-check', `${fam} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`);
  if (opts.serviceCIDRs?.length) {
    rule('cluster-ips-check', `${fam} daddr { ${opts.serviceCIDRs.join(', ')} } drop comment "Drop traffic to unallocated ClusterIPs"`);
  }
  vmap('no-endpoint-services', `${addr} . inet_proto . inet_service`, 'vmap to drop or reject packets to services with no endpoints');
  vmap('no-endpoint-nodeports', 'inet_proto . inet_service', 'vmap to drop or reject packets to service nodeports with no endpoints');
  chain('reject-chain', ' { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }');
  rule('reject-chain', 'reject');
  rule('service-endpoints-check', `${fam} daddr . meta l4proto . th dport vmap @no-endpoint-services`);
  rule('nodeport-endpoints-check', `${noLocalhost} meta l4proto . th dport vmap @no-endpoint-nodeports`);
  vmap('firewall-ips', `${addr} . inet_proto . inet_service`, 'destinations that are subject to LoadBalancerSourceRanges');
  rule('firewall-check', `${fam} daddr . meta l4proto . th dport vmap @firewall-ips`);
  vmap('service-ips', `${addr} . inet_proto . inet_service`, 'ClusterIP, ExternalIP and LoadBalancer IP traffic');
  vmap('service-nodeports', 'inet_proto . inet_service', 'NodePort traffic');
  rule('services', `${fam} daddr . meta l4proto . th dport vmap @service-ips`);
  rule('services', `fib daddr type local ${noLocalhost} meta l4proto . th dport vmap @service-nodeports`);

  for (const s of services) {
    const spn = servicePortName(s);
    const p = s.protocol;
    const c = categorize(s);
    const base = nftHashAndTruncate(nftServiceRest(spn, p));
    const [svc, svl, ext, fw] = ['service', 'local', 'external', 'firewall'].map((k) => `${k}-${base}`) as [string, string, string, string];
    const epBase = (ep: (typeof s.endpoints)[number]) => nftHashAndTruncate(nftEndpointRest(spn, p, endpointString(ep)));
    const sep = (ep: (typeof s.endpoints)[number]) => `endpoint-${epBase(ep)}`;
    const affinity = (ep: (typeof s.endpoints)[number]) => `affinity-${epBase(ep)}`;
    const internalChain = c.itpLocal ? svl : svc;
    const verdict = !c.hasEndpoints ? 'goto reject-chain' : 'drop';
    const key = (ip: string) => `${ip} . ${p} . ${s.port}`;
    for (const ep of c.reachable) chain(sep(ep));
    for (const ep of s.affinitySeconds ? c.reachable : []) {
      out.push(`add set ${t} ${affinity(ep)} { type ${addr} ; flags dynamic,timeout ; timeout ${s.affinitySeconds}s ; }`);
    }
    if (c.cluster.length > 0) chain(svc);
    if (c.local.length > 0) chain(svl);
    if (c.hasEndpoints && c.external) chain(ext);
    element('cluster-ips', s.clusterIP);
    if (c.hasInternal) element('service-ips', `${key(s.clusterIP)} : goto ${internalChain}`);
    else element('no-endpoint-services', `${key(s.clusterIP)} comment "${spn}" : ${verdict}`);
    for (const ip of s.externalIPs ?? []) {
      if (c.hasEndpoints) element('service-ips', `${key(ip)} : goto ${ext}`);
      if (!c.hasExternal) element('no-endpoint-services', `${key(ip)} comment "${spn}" : ${verdict}`);
    }
    const usesFW = !!s.loadBalancerIPs?.length && !!s.loadBalancerSourceRanges?.length;
    if (usesFW) chain(fw);
    for (const ip of s.loadBalancerIPs ?? []) {
      if (c.hasEndpoints) element('service-ips', `${key(ip)} : goto ${ext}`);
      if (usesFW) element('firewall-ips', `${key(ip)} comment "${spn}" : goto ${fw}`);
    }
    if (!c.hasExternal) for (const ip of s.loadBalancerIPs ?? []) element('no-endpoint-services', `${key(ip)} comment "${spn}" : ${verdict}`);
    if (s.nodePort !== undefined) {
      if (c.hasEndpoints) element('service-nodeports', `${p} . ${s.nodePort} : goto ${ext}`);
      if (!c.hasExternal) element('no-endpoint-nodeports', `${p} . ${s.nodePort} comment "${spn}" : ${verdict}`);
    }
    if (c.hasInternal && opts.clusterCIDR) {
      rule(internalChain, `${fam} daddr ${s.clusterIP} ${p} dport ${s.port} ${fam} saddr != ${opts.clusterCIDR} jump mark-for-masquerade`);
    }
    if (c.hasEndpoints && c.external) {
      if (!c.etpLocal) rule(ext, 'jump mark-for-masquerade');
      else {
        if (opts.clusterCIDR) rule(ext, `${fam} saddr ${opts.clusterCIDR} goto ${svc} comment "short-circuit pod traffic"`);
        rule(ext, 'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"');
        rule(ext, `fib saddr type local goto ${svc} comment "short-circuit local traffic"`);
      }
      if (c.hasExternal) rule(ext, `goto ${c.etpLocal ? svl : svc}`);
    }
    if (usesFW) rule(fw, `${fam} saddr != { ${(s.loadBalancerSourceRanges ?? []).join(', ')} } drop`);
    const toEndpoints = (ch: string, endpoints: typeof s.endpoints) => {
      for (const ep of s.affinitySeconds ? endpoints : []) rule(ch, `${fam} saddr @${affinity(ep)} goto ${sep(ep)}`);
      const elements = endpoints.map((ep, i) => `${i} : goto ${sep(ep)}`).join(' , ');
      rule(ch, `numgen random mod ${endpoints.length} vmap { ${elements} }`);
    };
    if (c.cluster.length > 0) toEndpoints(svc, c.cluster);
    if (c.local.length > 0) toEndpoints(svl, c.local);
    for (const ep of c.reachable) {
      rule(sep(ep), `${fam} saddr ${ep.ip} jump mark-for-masquerade`);
      if (s.affinitySeconds) rule(sep(ep), `update @${affinity(ep)} { ${fam} saddr }`);
      rule(sep(ep), `meta l4proto ${p} dnat to ${endpointString(ep)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
