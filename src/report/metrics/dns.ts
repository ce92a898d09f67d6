import type { Registry } from 'prom-client';
import { DNS_LATENCY_BOUNDS_US } from '../../native';
import { RCODE } from '../../observe/dns';
import type { AttributedDns } from '../../services/attribute';
import { cappedCounter, type CapDeps } from './capped-counter';
import { countedHistogram } from './counted-histogram';
import { serviceLabels } from './service-labels';

export const DNS_RESULTS = ['answered', 'nxdomain', 'servfail', 'other_rcode', 'unanswered'] as const;

const RESULT_OF: Record<number, (typeof DNS_RESULTS)[number]> = { [RCODE.NOERROR]: 'answered', [RCODE.NXDOMAIN]: 'nxdomain', [RCODE.SERVFAIL]: 'servfail' };

/**
 * flapwatch_dns_queries_total{namespace,service,result} and flapwatch_dns_latency_seconds{namespace,service}: the DNS
 * of this node's pods and of the node itself, by the DNS Service it went to (its ClusterIP or an endpoint of it;
 * namespace and service empty for any other server: a node-local cache, an upstream). Never clients, IPs or ports.
 */
export function dnsMetrics(registry: Registry, deps: CapDeps) {
  const queries = cappedCounter(registry, {
    name: 'flapwatch_dns_queries_total',
    help: 'DNS queries by the DNS Service they were sent to and how they ended: answered (NOERROR), nxdomain, servfail, other_rcode, unanswered (no answer in 5 s)',
    labelNames: ['namespace', 'service', 'result'] as const,
    overflow: { service: 'other' },
    ...deps,
  });
  const latency = countedHistogram(registry, {
    name: 'flapwatch_dns_latency_seconds',
    help: 'Time from a DNS query\'s first send to its answer, as the client\'s socket saw them, by the DNS Service',
    labelNames: ['namespace', 'service'] as const,
    overflow: { service: 'other' },
    bounds: DNS_LATENCY_BOUNDS_US.map((us) => us / 1e6),
    ...deps,
  });
  return {
    add(list: readonly AttributedDns[]): void {
      for (const o of list) {
        const service = serviceLabels(o.service);
        for (const [rcode, n] of o.answers) queries.inc({ ...service, result: RESULT_OF[rcode] ?? 'other_rcode' }, n);
        if (o.unanswered > 0) queries.inc({ ...service, result: 'unanswered' }, o.unanswered);
        if (o.latency.buckets.some((n) => n > 0)) latency.add(service, o.latency.buckets, o.latency.sumSeconds);
      }
    },
  };
}
