// Renders kube-proxy-shaped iptables rules (iptables mode), as pkg/proxy/iptables/proxier.go writes them
// (v1.28+: no KUBE-SVC chain for a Service without endpoints; no masquerade rules, which the lab does not need).
import { sepChain, svcChain } from './kube-hash';

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface Endpoint { podIndex: number; port: number }

export interface Service {
  namespace: string;
  name: string;
  /** Only when the Service port is named; it becomes `ns/name:portName`. */
  portName?: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  endpoints: Endpoint[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function servicePortName(s: Service): string {
  for (const part of s.portName ? [s.namespace, s.name, s.portName] : [s.namespace, s.name]) {
    if (!DNS_LABEL.test(part)) throw new Error(`invalid Service name part ${JSON.stringify(part)}`);
  }
  return `${s.namespace}/${s.name}${s.portName ? `:${s.portName}` : ''}`;
}

/** Jumps from the built-in chains, which kube-proxy ensures once; load with a flushing iptables-restore. */
export const BASE_RULES = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
*filter
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
`;

/**
 * One kube-proxy sync for `iptables-restore --noflush`: rewrites KUBE-SERVICES, KUBE-FORWARD and every
 * KUBE-SVC/KUBE-SEP chain, and deletes the chains of `previous` (an earlier sync's `chains`) no longer used.
 */
export function renderRules(services: readonly Service[], podIps: readonly string[], previous: readonly string[] = []): { text: string; chains: string[] } {
  const filter = [
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  ];
  const nat: string[] = [];
  const chains: string[] = [];
  for (const s of services) {
    const spn = servicePortName(s);
    const p = s.protocol;
    const match = `-m ${p} -p ${p} -d ${s.clusterIP} --dport ${s.port}`;
    if (s.endpoints.length === 0) {
      filter.push(`-A KUBE-SERVICES -m comment --comment "${spn} has no endpoints" ${match} -j REJECT`);
      continue;
    }
    const svc = svcChain(spn, p);
    chains.push(svc);
    nat.push(`-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" ${match} -j ${svc}`);
    const n = s.endpoints.length;
    s.endpoints.forEach((ep, i) => {
      const ip = podIps[ep.podIndex];
      if (ip === undefined) throw new Error(`${spn}: no pod ${ep.podIndex}`);
      const endpoint = `${ip}:${ep.port}`;
      const sep = sepChain(spn, p, endpoint);
      chains.push(sep);
      const statistic = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
      nat.push(`-A ${svc} -m comment --comment "${spn} -> ${endpoint}"${statistic} -j ${sep}`);
      nat.push(`-A ${sep} -m comment --comment ${spn} -m ${p} -p ${p} -j DNAT --to-destination ${endpoint}`);
    });
  }
  const stale = previous.filter((c) => !chains.includes(c));
  const declare = (names: readonly string[]) => names.map((c) => `:${c} - [0:0]`);
  const text = [
    '*filter', ...declare(['KUBE-SERVICES', 'KUBE-FORWARD']), ...filter, 'COMMIT',
    '*nat', ...declare(['KUBE-SERVICES', ...chains, ...stale]), ...nat, ...stale.map((c) => `-X ${c}`), 'COMMIT',
    '',
  ].join('\n');
  return { text, chains };
}
