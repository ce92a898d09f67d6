// The daemon's JSON API: /incidents (recent, newest first), /services/NS/NAME (what the index knows of it, its
// incidents and the evidence the timeline holds) and /peer/evidence (what this node saw of some of its pods in a
// window, for another node's judge: evidence only). Health payloads are already truncated and redacted.
import { isIP } from 'node:net';
import type { Correlator } from '../correlate/correlator';
import type { Incident } from '../correlate/incident';
import { vipsOf } from '../observe/objects';
import type { ServiceIndex } from '../services/index';
import { incidentMessage } from './incident-text';

/** An incident as the API shows it: its message first. */
const shown = (i: Incident) => ({ message: incidentMessage(i), ...i });

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Bounds of a peer's question: a handful of pod addresses, a window within the history. */
const PEER_ADDRS = 64;
// under the asker's default --peer-timeout (1 s): an answer that says it is incomplete beats none
const PEER_WAIT_MS = 750;

export function apiRoutes(correlator: Correlator, index: ServiceIndex, node: string): Record<string, (path: string, q: URLSearchParams) => unknown> {
  const limit = (q: URLSearchParams) => Math.min(Math.max(Number(q.get('limit') ?? 100) || 100, 1), 1000);
  return {
    '/peer/evidence': async (path, q) => {
      const addrs = q.getAll('addr').filter((a) => isIP(a) !== 0);
      const from = Number(q.get('from'));
      const to = Number(q.get('to'));
      if (path !== '' || !addrs.length || addrs.length > PEER_ADDRS || !Number.isFinite(from) || !(to >= from)) return null;
      return { node, ...(await correlator.evidenceAt(addrs, from, to, PEER_WAIT_MS)) };
    },
    '/incidents': (path, q) => (path === '' || path === '/' ? { incidents: correlator.incidents({ limit: limit(q) }).map(shown) } : null),
    '/services': (path, q) => {
      const [, namespace = '', name = '', ...rest] = path.split('/');
      if (rest.length || !NAME.test(namespace) || !NAME.test(name)) return null;
      const service = { namespace, name };
      const ports = index.byName(namespace, name).map((p) => ({
        portName: p.portName, protocol: p.protocol, vips: vipsOf(p), nodePort: p.nodePort, endpoints: p.endpoints.length,
        readyEndpoints: p.endpoints.filter((e) => e.ready !== false).length, activeProbe: p.activeProbe,
      }));
      const incidents = correlator.incidents({ service, limit: limit(q) }).map(shown);
      if (!ports.length && !incidents.length) return null;
      return { service, ports, incidents, recent: correlator.serviceEvidence(service) };
    },
  };
}
