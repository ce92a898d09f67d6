// Writes rules exactly as kube-proxy's iptables proxier does (pkg/proxy/iptables/proxier.go, v1.29–1.33:
// syncProxyRules, writeServiceToEndpointRules, iptablesJumpChains), in its normalized iptables-restore input
// form, plus kubelet's chains, so that a throwaway netns holds what a node holds. render-nft.ts does nftables mode.
import { endpointChain, serviceChain } from '../../src/kubeproxy/hash';
import type { Protocol } from '../../src/observe/net';

export interface RenderEndpoint {
  ip: string;
  port: number;
  /** on this node */
  local?: boolean;
}

export interface RenderService {
  namespace: string;
  name: string;
  /** only when the Service port is named */
  portName?: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  nodePort?: number;
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  /** ClientIP session affinity timeout */
  affinitySeconds?: number;
  endpoints: RenderEndpoint[];
}

export interface RenderOptions {
  /** the local-traffic detector's pod CIDR; masquerades traffic from elsewhere */
  clusterCIDR?: string;
  /** defaults to kube-proxy's rule: more than 1000 endpoints in all */
  largeClusterMode?: boolean;
  /** kubelet before 1.28: KUBE-MARK-DROP and the "dropping marked packets" rule */
  kubeletMarkDrop?: boolean;
  /** nf_conntrack_tcp_be_liberal=1: no INVALID drop (1.29+) */
  conntrackLiberal?: boolean;
  /** ip6tables-restore input: no localnet rule, and NodePorts not on ::1 */
  ipv6?: boolean;
}

export function servicePortName(s: RenderService): string {
  return `${s.namespace}/${s.name}${s.portName ? `:${s.portName}` : ''}`;
}

export function endpointString(ep: RenderEndpoint): string {
  return ep.ip.includes(':') ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
}

/** proxy.CategorizeEndpoints, for endpoints that are all ready, without topology hints. */
export function categorize(s: RenderService) {
  const external = s.nodePort !== undefined || !!s.externalIPs?.length || !!s.loadBalancerIPs?.length;
  const itpLocal = s.internalTrafficPolicy === 'Local';
  const etpLocal = external && s.externalTrafficPolicy === 'Local';
  // UsesClusterEndpoints: Local external policy still needs them to short-circuit local traffic
  const usesCluster = !itpLocal || external;
  const usesLocal = itpLocal || etpLocal;
  const cluster = usesCluster ? s.endpoints : [];
  const local = usesLocal ? s.endpoints.filter((e) => e.local) : [];
  const hasEndpoints = s.endpoints.length > 0;
  return {
    external, itpLocal, etpLocal, cluster, local, hasEndpoints,
    reachable: s.endpoints.filter((e) => cluster.includes(e) || local.includes(e)),
    hasInternal: hasEndpoints && (!itpLocal || local.length > 0),
    hasExternal: hasEndpoints && (!etpLocal || local.length > 0),
    usesFW: hasEndpoints && !!s.loadBalancerIPs?.length && !!s.loadBalancerSourceRanges?.length,
  };
}

export function totalEndpoints(services: readonly RenderService[]): number {
  return services.reduce((n, s) => n + s.endpoints.length, 0);
}

const MASQ = '0x004000'; // fmt.Sprintf("%#08x", 1<<14)
const MARK_DROP = '0x008000'; // kubelet's 1<<15

// iptablesJumpChains (kube-proxy ensures them with -I once; a fresh netns gets them through restore)
const JUMPS: [table: string, from: string, to: string, comment: string, extra: string][] = [
  ['filter', 'INPUT', 'KUBE-EXTERNAL-SERVICES', 'kubernetes externally-visible service portals', '-m conntrack --ctstate NEW '],
  ['filter', 'FORWARD', 'KUBE-EXTERNAL-SERVICES', 'kubernetes externally-visible service portals', '-m conntrack --ctstate NEW '],
  ['filter', 'INPUT', 'KUBE-NODEPORTS', 'kubernetes health check service ports', ''],
  ['filter', 'FORWARD', 'KUBE-SERVICES', 'kubernetes service portals', '-m conntrack --ctstate NEW '],
  ['filter', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals', '-m conntrack --ctstate NEW '],
  ['filter', 'FORWARD', 'KUBE-FORWARD', 'kubernetes forwarding rules', ''],
  ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL', 'kubernetes load balancer firewall', '-m conntrack --ctstate NEW '],
  ['filter', 'OUTPUT', 'KUBE-PROXY-FIREWALL', 'kubernetes load balancer firewall', '-m conntrack --ctstate NEW '],
  ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL', 'kubernetes load balancer firewall', '-m conntrack --ctstate NEW '],
  ['nat', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals', ''],
  ['nat', 'PREROUTING', 'KUBE-SERVICES', 'kubernetes service portals', ''],
  ['nat', 'POSTROUTING', 'KUBE-POSTROUTING', 'kubernetes postrouting rules', ''],
];

/** A complete iptables-restore input (mangle, filter, nat) for a fresh namespace; load it with -w. */
export function renderIptables(services: readonly RenderService[], opts: RenderOptions = {}): string {
  const large = opts.largeClusterMode ?? totalEndpoints(services) > 1000;
  const filterChains = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL'];
  const natChains = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];
  const filter: string[] = opts.ipv6 ? [] : [
    '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  ];
  const nat: string[] = [
    `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ}/${MASQ} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${MASQ}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${MASQ}`,
  ];
  const comment = (text: string) => (large ? '' : ` -m comment --comment ${text}`);
  for (const s of services) {
    const spn = servicePortName(s);
    const p = s.protocol;
    const c = categorize(s);
    const svc = serviceChain('KUBE-SVC-', spn, p);
    const svl = serviceChain('KUBE-SVL-', spn, p);
    const ext = serviceChain('KUBE-EXT-', spn, p);
    const fw = serviceChain('KUBE-FW-', spn, p);
    const internalChain = c.itpLocal ? svl : svc;
    const externalPolicy = c.etpLocal ? svl : svc;
    const [intTarget, intComment] = !c.hasEndpoints ? ['REJECT', `"${spn} has no endpoints"`] : ['DROP', `"${spn} has no local endpoints"`];
    const extTarget = intTarget;
    const match = (dst: string, port: number) => `-m ${p} -p ${p} -d ${dst} --dport ${port}`;
    if (c.hasInternal) nat.push(`-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" ${match(s.clusterIP, s.port)} -j ${internalChain}`);
    else filter.push(`-A KUBE-SERVICES -m comment --comment ${intComment} ${match(s.clusterIP, s.port)} -j ${intTarget}`);
    for (const ip of s.externalIPs ?? []) {
      if (c.hasEndpoints) nat.push(`-A KUBE-SERVICES -m comment --comment "${spn} external IP" ${match(ip, s.port)} -j ${ext}`);
      if (!c.hasExternal) filter.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${intComment} ${match(ip, s.port)} -j ${extTarget}`);
    }
    for (const ip of s.loadBalancerIPs ?? []) {
      if (c.hasEndpoints) nat.push(`-A KUBE-SERVICES -m comment --comment "${spn} loadbalancer IP" ${match(ip, s.port)} -j ${c.usesFW ? fw : ext}`);
      if (c.usesFW) filter.push(`-A KUBE-PROXY-FIREWALL -m comment --comment "${spn} traffic not accepted by ${fw}" ${match(ip, s.port)} -j DROP`);
    }
    if (!c.hasExternal) {
      for (const ip of s.loadBalancerIPs ?? []) filter.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${intComment} ${match(ip, s.port)} -j ${extTarget}`);
    }
    if (s.nodePort !== undefined) {
      if (c.hasEndpoints) nat.push(`-A KUBE-NODEPORTS -m comment --comment ${spn} -m ${p} -p ${p} --dport ${s.nodePort} -j ${ext}`);
      if (!c.hasExternal) {
        filter.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${intComment} -m addrtype --dst-type LOCAL -m ${p} -p ${p} --dport ${s.nodePort} -j ${extTarget}`);
      }
    }
    if (s.healthCheckNodePort !== undefined) {
      filter.push(`-A KUBE-NODEPORTS -m comment --comment "${spn} health check node port" -m tcp -p tcp --dport ${s.healthCheckNodePort} -j ACCEPT`);
    }
    if (c.hasInternal && opts.clusterCIDR) {
      nat.push(`-A ${internalChain} -m comment --comment "${spn} cluster IP" ${match(s.clusterIP, s.port)} ! -s ${opts.clusterCIDR} -j KUBE-MARK-MASQ`);
    }
    if (c.hasEndpoints && c.external) {
      natChains.push(ext);
      if (!c.etpLocal) {
        nat.push(`-A ${ext} -m comment --comment "masquerade traffic for ${spn} external destinations" -j KUBE-MARK-MASQ`);
      } else {
        if (opts.clusterCIDR) nat.push(`-A ${ext} -m comment --comment "pod traffic for ${spn} external destinations" -s ${opts.clusterCIDR} -j ${svc}`);
        nat.push(`-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
        nat.push(`-A ${ext} -m comment --comment "route LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j ${svc}`);
      }
      if (c.hasExternal) nat.push(`-A ${ext} -j ${externalPolicy}`);
    }
    if (c.usesFW) {
      natChains.push(fw);
      for (const range of s.loadBalancerSourceRanges ?? []) nat.push(`-A ${fw} -m comment --comment "${spn} loadbalancer IP" -s ${range} -j ${ext}`);
      nat.push(`-A ${fw} -m comment --comment "other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL"`);
    }
    const toEndpoints = (chain: string, endpoints: readonly RenderEndpoint[]) => {
      natChains.push(chain);
      for (const ep of s.affinitySeconds ? endpoints : []) {
        const sep = endpointChain(spn, p, endpointString(ep));
        nat.push(`-A ${chain}${comment(`"${spn} -> ${endpointString(ep)}"`)} -m recent --name ${sep} --rcheck --seconds ${s.affinitySeconds} --reap -j ${sep}`);
      }
      endpoints.forEach((ep, i) => {
        const probability = i < endpoints.length - 1 ? ` -m statistic --mode random --probability ${(1 / (endpoints.length - i)).toFixed(10)}` : '';
        nat.push(`-A ${chain}${comment(`"${spn} -> ${endpointString(ep)}"`)}${probability} -j ${endpointChain(spn, p, endpointString(ep))}`);
      });
    };
    if (c.cluster.length > 0) toEndpoints(svc, c.cluster);
    if (c.local.length > 0) toEndpoints(svl, c.local);
    for (const ep of c.reachable) {
      const sep = endpointChain(spn, p, endpointString(ep));
      natChains.push(sep);
      nat.push(`-A ${sep}${comment(spn)} -s ${ep.ip} -j KUBE-MARK-MASQ`);
      const recent = s.affinitySeconds ? ` -m recent --name ${sep} --set` : '';
      nat.push(`-A ${sep}${comment(spn)}${recent} -m ${p} -p ${p} -j DNAT --to-destination ${endpointString(ep)}`);
    }
  }
  const notLocalhost = opts.ipv6 ? ' ! -d ::1/128' : '';
  nat.push(`-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL${notLocalhost} -j KUBE-NODEPORTS`);
  if (!opts.conntrackLiberal) filter.push('-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP');
  filter.push(
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ}/${MASQ} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );
  if (opts.kubeletMarkDrop) {
    natChains.push('KUBE-MARK-DROP');
    nat.push(`-A KUBE-MARK-DROP -j MARK --or-mark ${MARK_DROP}`);
    filter.push(`-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark ${MARK_DROP}/${MARK_DROP} -j DROP`);
  }
  const table = (name: string, builtins: string[], chains: string[], rules: string[]) => [
    `*${name}`,
    ...builtins.map((b) => `:${b} ACCEPT [0:0]`),
    ...[...new Set(chains)].map((ch) => `:${ch} - [0:0]`),
    ...JUMPS.filter((j) => j[0] === name).map(([, from, to, text, extra]) => `-A ${from} ${extra}-m comment --comment "${text}" -j ${to}`),
    ...(name === 'filter' ? ['-A INPUT -j KUBE-FIREWALL', '-A OUTPUT -j KUBE-FIREWALL'] : []),
    ...rules,
    'COMMIT',
  ];
  return [
    ...table('mangle', ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'], ['KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY'], []),
    ...table('filter', ['INPUT', 'FORWARD', 'OUTPUT'], [...filterChains, 'KUBE-PROXY-CANARY'], filter),
    ...table('nat', ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'], [...natChains, 'KUBE-PROXY-CANARY'], nat),
    '',
  ].join('\n');
}
