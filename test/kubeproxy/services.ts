// Deterministic Service sets for the renderer: every rule shape kube-proxy writes (`variety`), or the plain
// ClusterIP Services with two endpoints each of the benchmark.
import type { RenderService } from './render';

const quad = (a: number, b: number, k: number) => `${a}.${b + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;

export function makeServices(n: number, opts: { endpoints?: number; variety?: boolean } = {}): RenderService[] {
  const perService = opts.endpoints ?? 2;
  const variety = opts.variety ?? true;
  const services: RenderService[] = [];
  let pod = 1;
  let nodePort = 30000;
  for (let i = 0; i < n; i++) {
    const m = variety ? i % 10 : -1;
    const port = 80 + (i % 3);
    const s: RenderService = {
      namespace: `ns${i % 50}`,
      name: `svc${i}`,
      ...(variety && i % 3 === 0 ? {} : { portName: `p${port}` }),
      protocol: variety && i % 50 === 11 ? 'sctp' : variety && i % 4 === 2 ? 'udp' : 'tcp',
      clusterIP: quad(172, 30, i + 1),
      port,
      endpoints: [],
    };
    const noEndpoints = m === 3;
    for (let j = 0; j < (noEndpoints ? 0 : perService); j++) {
      s.endpoints.push({ ip: quad(10, 180, pod++), port: 8000 + (i % 5), local: j === 0 && i % 2 === 0 && m !== 5 && m !== 1 });
    }
    if (m === 3 && i % 20 === 3) s.nodePort = nodePort++;
    if (m === 5) {
      Object.assign(s, { externalTrafficPolicy: 'Local', nodePort: nodePort++, loadBalancerIPs: [quad(198, 19, i)], healthCheckNodePort: nodePort++ });
      if (i % 20 === 15) s.endpoints[0]!.local = true;
    }
    if (m === 7) Object.assign(s, { loadBalancerIPs: [quad(198, 19, i)], loadBalancerSourceRanges: ['203.0.113.0/25', '198.51.100.0/24'] });
    if (m === 9) s.externalIPs = [quad(198, 18, i)];
    if (m === 1 && i % 20 === 1) s.internalTrafficPolicy = 'Local';
    if (variety && i % 25 === 4) s.affinitySeconds = 10800;
    services.push(s);
  }
  return services;
}
