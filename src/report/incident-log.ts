// One log line per incident, message first, every field an operator filters on beside it.
import type { Logger } from 'pino';
import type { Incident } from '../correlate/incident';
import { incidentMessage } from './incident-text';

const iso = (ms: number) => new Date(ms).toISOString();

export function logIncidents(logger: Logger, incidents: Incident[]): void {
  for (const i of incidents) {
    const fields = {
      incident: i.id,
      at: iso(i.at),
      namespace: i.service?.namespace,
      service: i.service?.name,
      pod: i.pod ? `${i.pod.namespace}/${i.pod.name}` : undefined,
      probe: i.probe,
      path: i.path,
      target: i.target,
      sources: i.sources,
      verdict: i.verdict,
      node: i.node,
      between: i.between,
      peers: i.peers,
      failure: i.failure,
      window: { from: iso(i.window.from), to: iso(i.window.to) },
      evidence: i.evidence.slice(0, 5).map(({ path, kind, service, mechanisms, reason, location, detail, dst, count, node, examples, dns }) => ({ path, kind, service, mechanisms, reason, location, detail, dst, count, node, examples, dns })),
      downstream: i.downstream,
      cascade: i.cascade,
      probes: i.probes,
      retry: i.retry,
      failedDependencies: i.failedDependencies,
      incomplete: i.incomplete,
    };
    const message = incidentMessage(i);
    if (i.verdict === 'none') logger.info(fields, message);
    else logger.warn(fields, message);
  }
}
