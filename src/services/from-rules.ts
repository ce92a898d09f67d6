// kube-proxy's rules as a ServiceIndex view: what a node knows of its Services without the API server.
import { splitServicePortName } from '../kubeproxy/hash';
import type { RulesModel } from '../kubeproxy/model';
import type { Address, Protocol, ServicePortView } from './index';

/** `10.0.0.1:80`, `[fd00::1]:80` → address and port */
export function parseHostPort(s: string): Address | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  return m ? { ip: (m[1] ?? m[2])!, port: Number(m[3]) } : undefined;
}

export function viewsFromRules(model: RulesModel): ServicePortView[] {
  const views: ServicePortView[] = [];
  for (const p of model.services.values()) {
    const name = splitServicePortName(p.name);
    const protocol = p.protocol.toLowerCase() as Protocol;
    if (!name || !['tcp', 'udp', 'sctp'].includes(protocol)) continue;
    const port = p.port;
    const vips = port === undefined ? [] : [...p.clusterIPs, ...p.externalIPs, ...p.loadBalancerIPs].map((ip) => ({ ip, port }));
    views.push({
      ...name,
      protocol,
      vips,
      ...(p.nodePort !== undefined && { nodePort: p.nodePort }),
      endpoints: p.endpoints.map(parseHostPort).filter((e): e is Address => e !== undefined),
    });
  }
  return views;
}
