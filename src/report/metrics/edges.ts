import type { Workload } from '../../observe/objects';
import type { AttributedConnection, AttributedDrop, AttributedRetransmit } from '../../services/attribute';
import { LabelCap } from '../label-cap';
import type { CapDeps } from './capped-counter';
import { EdgeSeries, RESULTS } from './edge-series';
import type { TextRegistry } from './text-registry';

export const EDGE_LABELS = ['client_namespace', 'client_kind', 'client_workload', 'namespace', 'service', 'port'] as const;
type EdgeLabels = Record<(typeof EDGE_LABELS)[number], string>;

/** An edge of the service graph: a workload of this node → a Service port. Never pods, IPs or port numbers. */
export function edgeLabels(client: Workload, service: { namespace: string; name: string; portName: string }): EdgeLabels {
  return { client_namespace: client.namespace, client_kind: client.kind, client_workload: client.name, namespace: service.namespace, service: service.name, port: service.portName };
}

// Past the cap an edge keeps only its client's kind (a closed set): every other label folds, so that the folded
// series stay as few as the kinds whatever the cluster's namespaces and ports.
const OVERFLOW = { client_namespace: 'other', client_workload: 'other', namespace: 'other', service: 'other', port: 'other' };

/**
 * flapwatch_edge_connect_seconds' buckets: every other power of two of microseconds from 2^8 (256 µs) to 2^24
 * (16.8 s), so that each is a sum of the kernel's log2 slots: slot i, [2^i, 2^(i+1)) µs, lies under the first
 * bound of at least 2^(i+1) µs. The SYN retries (1 s, 3 s, 7 s…) fall apart.
 */
const CONNECT_BOUND_EXPONENTS = [8, 10, 12, 14, 16, 18, 20, 22, 24];
export const CONNECT_BOUNDS_S = CONNECT_BOUND_EXPONENTS.map((k) => 2 ** k / 1e6);

/** The kernel's log2 µs slots (ConnectionObservation.latencyUs) → counts per CONNECT_BOUNDS_S bucket, +Inf last. */
export function connectBuckets(slots: readonly number[]): number[] {
  const counts = new Array<number>(CONNECT_BOUND_EXPONENTS.length + 1).fill(0);
  slots.forEach((n, i) => {
    const b = CONNECT_BOUND_EXPONENTS.findIndex((k) => i + 1 <= k);
    counts[b < 0 ? CONNECT_BOUND_EXPONENTS.length : b]! += n;
  });
  return counts;
}

/**
 * The service graph's edges, counted on the client's node only (so never twice across nodes):
 * flapwatch_edge_drops_total{…,mechanism}, flapwatch_edge_retransmits_total{…},
 * flapwatch_edge_connections_total{…,result} and flapwatch_edge_connect_seconds{…}. One cap for every edge
 * metric: an edge is in all of them or folded in all of them. Prometheus sums them across nodes
 * (deploy/prometheus/flapwatch-rules.yaml).
 */
export function edgeMetrics(registry: TextRegistry, deps: CapDeps) {
  const cap = new LabelCap({
    labelNames: EDGE_LABELS,
    cap: deps.labelCap,
    overflow: OVERFLOW,
    onCapReached: () => deps.onCapReached?.('flapwatch_edge_* (service graph edges)'),
  });
  const series = new EdgeSeries({
    labelNames: EDGE_LABELS,
    drops: { name: 'flapwatch_edge_drops_total', help: 'Packets from a workload of this node to a Service that the kernel dropped, by mechanism (benign frees excluded)' },
    retransmits: { name: 'flapwatch_edge_retransmits_total', help: 'TCP segments (SYNs included) a workload of this node retransmitted to a Service' },
    connections: { name: 'flapwatch_edge_connections_total', help: 'TCP connects from a workload of this node to a Service, by result: attempted (SYN sent), established, failed (refused, reset or timed out)' },
    connect: {
      name: 'flapwatch_edge_connect_seconds',
      help: 'Time from a TCP connect\'s SYN to its established state, from a workload of this node to a Service (SYN retransmissions included)',
      bounds: CONNECT_BOUNDS_S,
    },
  });
  registry.registerText(series);
  const edge = (client: Workload, service: { namespace: string; name: string; portName: string }) => {
    const labels = cap.admit(edgeLabels(client, service));
    return series.edge(EDGE_LABELS.map((n) => labels[n]));
  };
  return {
    add(list: { drops: AttributedDrop[]; retransmits: AttributedRetransmit[]; connections: AttributedConnection[] }): void {
      for (const d of list.drops) if (d.loss && d.client && d.service) series.addDrops(edge(d.client, d.service), d.mechanisms.join('+'), d.packets);
      for (const r of list.retransmits) if (r.client && r.service) series.addRetransmits(edge(r.client, r.service), r.packets);
      for (const c of list.connections) {
        if (!c.client || !c.service) continue;
        const e = edge(c.client, c.service);
        for (const result of RESULTS) if (c[result] > 0) series.addConnections(e, result, c[result]);
        if (c.latencyUs.some((n) => n > 0)) series.addConnect(e, connectBuckets(c.latencyUs), c.latencySumUs / 1e6);
      }
    },
  };
}
