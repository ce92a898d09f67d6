// What the model must say about rendered Services: derived from the renderer's input, not from its output.
import assert from 'node:assert/strict';
import { destination, type RulesModel } from '../../src/kubeproxy/model';
import { hostPort } from '../../src/observe/net';
import { servicePortName as portNameOf } from '../../src/observe/objects';
import { categorize, endpointString, servicePortName, type RenderOptions, type RenderService } from './render';

export interface Expected {
  services: Map<string, { protocol: string; clusterIPs: string[]; port: number; externalIPs: string[]; loadBalancerIPs: string[]; nodePort?: number; endpoints: string[] }>;
  /** `kind service destination`, sorted */
  drops: string[];
}

export function expected(services: readonly RenderService[], mode: 'iptables' | 'nftables', opts: RenderOptions & { serviceCIDRs?: string[] } = {}): Expected {
  const out: Expected = { services: new Map(), drops: [] };
  const drop = (kind: string, service: string, dest: string) => out.drops.push(`${kind} ${service} ${dest}`);
  for (const s of services) {
    const name = servicePortName(s);
    const c = categorize(s);
    const p = s.protocol;
    const lbs = s.loadBalancerIPs ?? [];
    const firewalled = lbs.length > 0 && !!s.loadBalancerSourceRanges?.length && (mode === 'nftables' || c.hasEndpoints);
    // the rules tell load-balancer IPs from external IPs only through a firewall (both modes) or, in iptables
    // mode, the "loadbalancer IP" comment of a Service with endpoints
    const lbKnown = mode === 'iptables' ? c.hasEndpoints || firewalled : firewalled;
    out.services.set(name, {
      protocol: p,
      clusterIPs: [s.clusterIP],
      port: s.port,
      externalIPs: [...(s.externalIPs ?? []), ...(lbKnown ? [] : lbs)],
      loadBalancerIPs: lbKnown ? lbs : [],
      ...(s.nodePort === undefined ? {} : { nodePort: s.nodePort }),
      endpoints: c.reachable.map(endpointString).sort(),
    });
    const kind = c.hasEndpoints ? 'drop_no_local_endpoints' : 'reject_no_endpoints';
    if (!c.hasInternal) drop(kind, name, destination(s.clusterIP, s.port, p));
    if (!c.hasExternal) {
      for (const ip of [...(s.externalIPs ?? []), ...lbs]) drop(kind, name, destination(ip, s.port, p));
      if (s.nodePort !== undefined) drop(kind, name, destination(undefined, s.nodePort, p));
    }
    if (firewalled) for (const ip of lbs) drop('firewall_drop', name, destination(ip, s.port, p));
  }
  if (mode === 'iptables') {
    if (!opts.ipv6) drop('drop_localnet', '-', '');
    if (!opts.conntrackLiberal) drop('drop_invalid', '-', '');
    if (opts.kubeletMarkDrop) drop('drop_marked', '-', '');
  } else {
    drop('reject_invalid_port', '-', '');
    if (opts.serviceCIDRs?.length) drop('drop_unallocated_ip', '-', '');
  }
  out.drops.sort();
  return out;
}

/** The model says exactly what was rendered. */
export function assertModel(model: RulesModel, want: Expected): void {
  assert.equal(model.services.size, want.services.size, 'Service count');
  for (const [name, w] of want.services) {
    const s = model.services.get(name);
    assert.ok(s, `${name} is in the model`);
    assert.equal(portNameOf(s), name);
    const { namespace: _n, name: _s, portName: _p, endpoints, ...got } = s;
    // the order of a Service's addresses is the dump's, which means nothing
    const sorted = <T extends { clusterIPs: string[]; externalIPs: string[]; loadBalancerIPs: string[] }>(x: T) =>
      ({ ...x, clusterIPs: [...x.clusterIPs].sort(), externalIPs: [...x.externalIPs].sort(), loadBalancerIPs: [...x.loadBalancerIPs].sort() });
    assert.deepEqual(sorted({ ...got, endpoints: endpoints.map(hostPort) }), sorted(w), name);
  }
  assert.deepEqual(model.drops.map((d) => `${d.kind} ${d.service ?? '-'} ${d.destination}`).sort(), want.drops);
}

/** A Service port's endpoints as kube-proxy writes them, `IP:port`. */
export function endpointsOf(model: RulesModel, name: string): string[] | undefined {
  return model.services.get(name)?.endpoints.map(hostPort);
}
