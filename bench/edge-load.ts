// The service graph's load for the benchmarks: 10,000 Services and 2,000 client workloads, each workload calling a
// few of them, as attributed connects, retransmits and drops would arrive each interval.
import { CONNECT_LATENCY_SLOTS } from '../src/native';
import type { Workload } from '../src/observe/objects';
import type { AttributedConnection, AttributedDrop, AttributedRetransmit } from '../src/services/attribute';

export const SERVICES = 10_000;
export const WORKLOADS = 2_000;
const NAMESPACES = 100;
/** intervals of records fed: every edge's series exist after the first */
export const INTERVALS = 20;

/** Edge i: workload i mod WORKLOADS calls Service (i × 7919) mod SERVICES (a prime stride: no two edges alike). */
function edge(i: number): { client: Workload; service: AttributedConnection['service'] } {
  const w = i % WORKLOADS;
  const s = (i * 7919) % SERVICES;
  return {
    client: { namespace: `team-${w % NAMESPACES}`, kind: 'Deployment', name: `client-${w}` },
    service: { namespace: `ns-${s % NAMESPACES}`, name: `svc-${s}`, portName: 'http', protocol: 'tcp', clusterIPs: [], externalIPs: [], loadBalancerIPs: [], endpoints: [] },
  };
}

/** One interval's records of edges 0 to edges - 1. */
export function observations(edges: number, round: number) {
  const connections: AttributedConnection[] = [];
  const retransmits: AttributedRetransmit[] = [];
  const drops: AttributedDrop[] = [];
  for (let i = 0; i < edges; i++) {
    const { client, service } = edge(i);
    const latencyUs = new Array<number>(CONNECT_LATENCY_SLOTS).fill(0);
    latencyUs[8 + (i % 6)] = 3;
    const base = { netns: 1, direction: 'to_service' as const, client, service };
    connections.push({ ...base, family: 4, saddr: '10.0.0.1', dst: { ip: '10.96.0.1', port: 80 }, attempted: 3, established: 3, failed: 0, latencyUs, latencySumUs: 3 * 2 ** (8 + (i % 6)) });
    // a tenth of the edges lose a packet now and then: retransmits and drops are rarer than connects
    if ((i + round) % 10 === 0) {
      const tuple = { family: 4 as const, proto: 6, saddr: '10.0.0.1', daddr: '10.0.5.1', sport: 40_000, dport: 8080 };
      retransmits.push({ ...base, tuple, state: 'ESTABLISHED', synack: false, packets: 1 });
      drops.push({
        ...base, tuple, reason: 2, reasonName: 'NETFILTER_DROP', location: 'nft_do_chain', origDst: { ip: '10.96.0.1', port: 80 },
        ct: { present: true, confirmed: true, dnat: true, snat: false, reply: false }, packets: 1, bytes: 60, loss: true, mechanisms: ['conntrack-table-full'], detail: 'bench',
      });
    }
  }
  return { connections, retransmits, drops };
}
