// kube-proxy's own golden rulesets (test/fixtures/kube-proxy/: each file's header names its repository, commit, file
// and Go test), loaded into a namespace as kube-proxy loads them, and what each Go test fed kube-proxy (its
// Services and EndpointSlices), written out by hand as the model must read it back.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { destination } from '../../src/kubeproxy/model';
import { nsRun } from '../lab/netns';
import type { Expected } from './expect';
import { loadIptables, loadNft, type Backend } from './netns';

const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'kube-proxy'); // dist/test/kubeproxy → the repository

export function fixture(name: string): string {
  return readFileSync(path.join(DIR, name), 'utf8');
}

// kube-proxy creates these nfacct objects at start; rules that name a missing one do not load
const NFACCT_OBJECTS = ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts'];
// kubelet's chain (which kube-proxy of those releases also ensured) that pre-1.25 rules jump to without declaring it
const MARK_DROP = '*nat\n:KUBE-MARK-DROP - [0:0]\n-A KUBE-MARK-DROP -j MARK --or-mark 0x8000\nCOMMIT\n';

/**
 * An iptables-restore fixture, loaded with one backend's tools as kube-proxy loads its rules (--noflush), after what
 * kube-proxy and kubelet create outside that input: the nfacct objects its rules count in, the KUBE-MARK-DROP chain.
 */
export async function loadIptablesFixture(netns: string, backend: Backend, name: string): Promise<void> {
  const rules = fixture(name);
  for (const o of NFACCT_OBJECTS) if (rules.includes(`--nfacct-name ${o}`)) await nsRun(netns, 'nfacct', ['add', o]).catch(() => undefined);
  if (rules.includes('-j KUBE-MARK-DROP') && !rules.includes(':KUBE-MARK-DROP ')) await loadIptables(netns, backend, MARK_DROP);
  await nsRun(netns, `iptables-${backend}-restore`, ['-w', '--noflush'], { input: rules });
}

const DECLARATION = /^add (table|chain|set|map) /;

/**
 * An nft fixture, declarations first: kube-proxy's tests compare their transactions sorted, so a rule may name a
 * chain its `add chain` line declares later; kube-proxy's own transactions declare every chain first. `drop`
 * leaves out lines naming these words, to make a layout a piece short (see the 1.29 case in golden.test.ts).
 */
export async function loadNftFixture(netns: string, name: string, drop: readonly string[] = []): Promise<void> {
  const lines = fixture(name).split('\n').filter((l) => !drop.some((w) => l.includes(w)));
  await loadNft(netns, [...lines.filter((l) => DECLARATION.test(l)), ...lines.filter((l) => !DECLARATION.test(l))].join('\n'));
}

type ExpectedService = Expected['services'] extends Map<string, infer S> ? S : never;

function service(s: Partial<ExpectedService> & Pick<ExpectedService, 'clusterIPs' | 'port'>): ExpectedService {
  return { protocol: 'tcp', externalIPs: [], loadBalancerIPs: [], endpoints: [], ...s };
}

const tcp = (ip: string | undefined, port: number) => destination(ip, port, 'tcp');

/**
 * TestOverallIPTablesRules and TestOverallNFTablesRules feed the same six Services: svc1 ClusterIP; svc2 LoadBalancer
 * with externalTrafficPolicy Local, an external IP, and one endpoint on another node; svc3 NodePort; svc4 of type
 * NodePort with no node port given, an external IP and two endpoints; svc5 LoadBalancer (Cluster) with a source
 * range and session affinity; svc6 with no endpoints.
 */
function overall(mode: 'iptables' | 'nftables'): Expected {
  // the rules tell svc2's load-balancer IP from an external IP only in iptables mode ("loadbalancer IP" comment);
  // nftables mode tells a load-balancer IP only through its firewall (svc5)
  const svc2LB = mode === 'iptables' ? { externalIPs: ['192.168.99.22'], loadBalancerIPs: ['1.2.3.4'] } : { externalIPs: ['192.168.99.22', '1.2.3.4'] };
  const services = new Map<string, ExpectedService>([
    ['ns1/svc1:p80', service({ clusterIPs: ['172.30.0.41'], port: 80, endpoints: ['10.180.0.1:80'] })],
    ['ns2/svc2:p80', service({ clusterIPs: ['172.30.0.42'], port: 80, ...svc2LB, nodePort: 3001, endpoints: ['10.180.0.2:80'] })],
    ['ns3/svc3:p80', service({ clusterIPs: ['172.30.0.43'], port: 80, nodePort: 3003, endpoints: ['10.180.0.3:80'] })],
    ['ns4/svc4:p80', service({ clusterIPs: ['172.30.0.44'], port: 80, externalIPs: ['192.168.99.33'], endpoints: ['10.180.0.4:80', '10.180.0.5:80'] })],
    ['ns5/svc5:p80', service({ clusterIPs: ['172.30.0.45'], port: 80, loadBalancerIPs: ['5.6.7.8'], nodePort: 3002, endpoints: ['10.180.0.3:80'] })],
    ['ns6/svc6:p80', service({ clusterIPs: ['172.30.0.46'], port: 80 })],
  ]);
  const drops = [
    `reject_no_endpoints ns6/svc6:p80 ${tcp('172.30.0.46', 80)}`,
    ...['192.168.99.22', '1.2.3.4', undefined].map((ip) => `drop_no_local_endpoints ns2/svc2:p80 ${tcp(ip, ip ? 80 : 3001)}`),
    `firewall_drop ns5/svc5:p80 ${tcp('5.6.7.8', 80)}`,
    ...(mode === 'iptables' ? ['drop_localnet - ', 'drop_invalid - '] : ['reject_invalid_port - ', 'drop_unallocated_ip - ']),
  ];
  return { services, drops: drops.sort() };
}

export const OVERALL_IPTABLES = overall('iptables');
export const OVERALL_NFTABLES = overall('nftables');

/**
 * TestEndpointSliceE2E and TestHealthCheckNodePortE2E (old iptables mode) feed one Service ns1/svc1, ClusterIP
 * 172.20.1.1, an unnamed TCP port with no port number (0) and target port 80, and four endpoints of which 10.0.1.4
 * is not ready; the second makes it a LoadBalancer with externalTrafficPolicy Local and node port 30010.
 */
export function oldE2E(nodePort?: number): Expected {
  const s = service({ clusterIPs: ['172.20.1.1'], port: 0, endpoints: ['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80'], ...(nodePort ? { nodePort } : {}) });
  return { services: new Map([['ns1/svc1', s]]), drops: ['drop_invalid - '] };
}

/**
 * Test_EndpointSliceWithTerminatingEndpoints (old iptables mode) feeds ns1/svc1: a LoadBalancer with
 * externalTrafficPolicy Local, ClusterIP 172.20.1.1, an unnamed TCP port 80, session affinity, load-balancer IP
 * 10.1.2.3 and no node port; each case its own endpoints.
 */
const terminating = (s: Partial<ExpectedService>, drops: string[]): Expected => ({
  services: new Map([['ns1/svc1', service({ clusterIPs: ['172.20.1.1'], port: 80, ...s })]]),
  drops: ['drop_invalid - ', ...drops].sort(),
});

/** "… disabled, only terminating endpoints exist": the one ready endpoint, 10.0.1.5, is on another node. */
export const TERMINATING_NO_LOCAL = terminating({ loadBalancerIPs: ['10.1.2.3'], endpoints: ['10.0.1.5:80'] }, ['drop_no_local_endpoints ns1/svc1 ']);

/** "no usable endpoints on any node": a REJECT does not say the address is a load balancer's. */
export const TERMINATING_NONE_USABLE = terminating({ externalIPs: ['10.1.2.3'] },
  [`reject_no_endpoints ns1/svc1 ${tcp('172.20.1.1', 80)}`, `reject_no_endpoints ns1/svc1 ${tcp('10.1.2.3', 80)}`]);
