// A pod on this node as flapwatch keeps it: its addresses and its probes, with kubelet's defaults filled in
// and named ports resolved against the container's ports (as kubelet resolves them).
import type { PodInfo, ProbeSpec, ProbeType } from '../observe/objects';
import type { StringPool } from './string-pool';
import { workloadOf } from './workloads';
import { arr, num, str, type IntOrString, type WireContainer, type WirePod, type WireProbe } from './wire';

const KINDS: [ProbeType, 'readinessProbe' | 'livenessProbe' | 'startupProbe'][] = [
  ['Readiness', 'readinessProbe'],
  ['Liveness', 'livenessProbe'],
  ['Startup', 'startupProbe'],
];

/** undefined for a pod that has finished (its IP may already belong to another pod) */
export function podInfo(pod: WirePod, intern: StringPool, problems: string[]): PodInfo | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ips = arr(pod.status?.podIPs).map((p) => str(p.ip)).filter(Boolean);
  const podIP = str(pod.status?.podIP);
  if (ips.length === 0 && podIP) ips.push(podIP);
  // sidecars (init containers that keep running) are probed like containers
  const containers = [...arr(pod.spec?.containers), ...arr(pod.spec?.initContainers).filter((c) => c.restartPolicy === 'Always')];
  const probes: ProbeSpec[] = [];
  for (const c of containers) {
    for (const [type, field] of KINDS) {
      const p = c[field];
      if (p && typeof p === 'object') probes.push(probeSpec(c, type, p, problems));
    }
  }
  const namespace = intern.get(str(pod.metadata?.namespace));
  const workload = workloadOf(pod, namespace);
  return {
    namespace,
    name: str(pod.metadata?.name),
    workload: { namespace, kind: intern.get(workload.kind), name: intern.get(workload.name) },
    uid: str(pod.metadata?.uid),
    nodeName: intern.get(str(pod.spec?.nodeName)),
    ips,
    hostNetwork: pod.spec?.hostNetwork === true,
    probes,
  };
}

function probeSpec(c: WireContainer, type: ProbeType, p: WireProbe, problems: string[]): ProbeSpec {
  const container = str(c.name);
  const port = (v: IntOrString | undefined): number => {
    if (typeof v === 'number') return v;
    const named = arr(c.ports).find((cp) => cp.name === v);
    const n = num(named?.containerPort);
    if (n) return n;
    problems.push(`container ${container}: ${type.toLowerCase()} probe port "${String(v)}" is not one of its ports`);
    return 0;
  };
  let handler: ProbeSpec['handler'];
  if (p.httpGet) {
    handler = { kind: 'http', path: str(p.httpGet.path) || '/', port: port(p.httpGet.port), scheme: p.httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP' };
  } else if (p.tcpSocket) handler = { kind: 'tcp', port: port(p.tcpSocket.port) };
  else if (p.grpc) handler = { kind: 'grpc', port: num(p.grpc.port) ?? 0 };
  else handler = { kind: 'exec' };
  return {
    container,
    type,
    timeoutSeconds: num(p.timeoutSeconds) || 1,
    periodSeconds: num(p.periodSeconds) || 10,
    failureThreshold: num(p.failureThreshold) || 3,
    handler,
  };
}
