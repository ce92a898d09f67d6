import type { Registry } from 'prom-client';
import type { Workload } from '../../observe/objects';
import type { AttributedDrop, AttributedRetransmit } from '../../services/attribute';
import { cappedCounter, type CapDeps } from './capped-counter';

export const EDGE_LABELS = ['client_namespace', 'client_kind', 'client_workload', 'namespace', 'service', 'port'] as const;
type EdgeLabels = Record<(typeof EDGE_LABELS)[number], string>;

/** An edge of the service graph: a workload of this node → a Service port. Never pods, IPs or port numbers. */
export function edgeLabels(client: Workload, service: { namespace: string; name: string; portName: string }): EdgeLabels {
  return { client_namespace: client.namespace, client_kind: client.kind, client_workload: client.name, namespace: service.namespace, service: service.name, port: service.portName };
}

const OVERFLOW = { client_workload: 'other', service: 'other' };

/**
 * The service graph's edges, counted on the client's node only (so never twice across nodes):
 * flapwatch_edge_drops_total{…,mechanism} and flapwatch_edge_retransmits_total{…}. Prometheus sums them across
 * nodes (deploy/prometheus/flapwatch-rules.yaml).
 */
export function edgeMetrics(registry: Registry, deps: CapDeps) {
  const drops = cappedCounter(registry, {
    name: 'flapwatch_edge_drops_total',
    help: 'Packets from a workload of this node to a Service that the kernel dropped, by mechanism (benign frees excluded)',
    labelNames: [...EDGE_LABELS, 'mechanism'] as const,
    overflow: OVERFLOW,
    ...deps,
  });
  const retransmits = cappedCounter(registry, {
    name: 'flapwatch_edge_retransmits_total',
    help: 'TCP segments (SYNs included) a workload of this node retransmitted to a Service',
    labelNames: EDGE_LABELS,
    overflow: OVERFLOW,
    ...deps,
  });
  return {
    add(list: { drops: AttributedDrop[]; retransmits: AttributedRetransmit[] }): void {
      for (const d of list.drops) {
        if (d.loss && d.client && d.service) drops.inc({ ...edgeLabels(d.client, d.service), mechanism: d.mechanisms.join('+') }, d.packets);
      }
      for (const r of list.retransmits) if (r.client && r.service) retransmits.inc(edgeLabels(r.client, r.service), r.packets);
    },
  };
}
