// deploy/daemonset.yaml's flapwatch container as `podman run` arguments: what kubelet asks of the runtime for
// it, read from the manifest (not restated), so that the image test runs what the DaemonSet runs. Where the
// test's "node" is a lab network namespace, hostNetwork joins that namespace instead of the machine's.
import { find, resources } from '../deploy/manifests';

interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface Container {
  args?: string[];
  env?: EnvVar[];
  resources?: { limits?: { memory?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }[];
  securityContext: {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    seccompProfile?: { type: string };
    capabilities: { drop: string[]; add: string[] };
  };
}
interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  containers: (Container & { name: string })[];
  volumes: { name: string; hostPath?: { path: string } }[];
}

export interface Placement {
  /** the network namespace that stands for the node's (a name under /run/netns) */
  netns: string;
  /** the node's address there: the pod's IP under hostNetwork */
  podIP: string;
  nodeName: string;
}

export interface RunOptions {
  /** a seccomp profile file instead of the runtime's default (the guide's fix for runtimes that block bpf()) */
  seccompProfile?: string;
  /** variables set over the manifest's, for what this machine lacks (a kubelet) */
  env?: Record<string, string>;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };

function bytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) throw new Error(`a memory quantity this test does not read: ${quantity}`);
  return Number(m[1]) * (m[2] ? BINARY[m[2]]! : 1);
}

/** The manifest's environment as kubelet resolves it: fieldRefs, then $(VAR) of earlier variables. */
function environment(c: Container, at: Placement): Record<string, string> {
  const fields: Record<string, string> = { 'spec.nodeName': at.nodeName, 'status.podIP': at.podIP };
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    const ref = v.valueFrom?.fieldRef?.fieldPath;
    if (ref !== undefined && fields[ref] === undefined) throw new Error(`env ${v.name}: a fieldRef this test does not resolve: ${ref}`);
    env[v.name] = ref !== undefined ? fields[ref]! : (v.value ?? '').replace(/\$\((\w+)\)/g, (whole, k: string) => env[k] ?? whole);
  }
  return env;
}

/** podman run's arguments before the image, and the container's arguments after it. */
export function daemonSetRun(at: Placement, opts: RunOptions = {}): { before: string[]; after: string[] } {
  const pod = (find(resources(), 'DaemonSet').spec as { template: { spec: PodSpec } }).template.spec;
  const c = pod.containers.find((x) => x.name === 'flapwatch')!;
  const sc = c.securityContext;
  if (sc.privileged) throw new Error('the DaemonSet runs privileged: this test runs it with its capabilities only');
  const before: string[] = [];
  if (pod.hostNetwork) before.push('--network', `ns:/run/netns/${at.netns}`);
  if (pod.hostPID) before.push('--pid', 'host');
  before.push('--user', `${sc.runAsUser ?? 0}:${sc.runAsGroup ?? 0}`);
  before.push(...sc.capabilities.drop.flatMap((cap) => ['--cap-drop', cap.toLowerCase()]));
  before.push(...sc.capabilities.add.flatMap((cap) => ['--cap-add', cap]));
  // Kubernetes mounts no tmpfs of its own on a read-only root; podman would
  if (sc.readOnlyRootFilesystem) before.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) before.push('--security-opt', 'no-new-privileges');
  const profile = sc.seccompProfile?.type;
  if (profile !== 'RuntimeDefault') throw new Error(`seccompProfile ${profile}: this test knows RuntimeDefault`);
  if (opts.seccompProfile) before.push('--security-opt', `seccomp=${opts.seccompProfile}`);
  for (const m of c.volumeMounts ?? []) {
    const host = pod.volumes.find((v) => v.name === m.name)?.hostPath?.path;
    if (!host) throw new Error(`volume ${m.name}: only hostPath volumes are run here`);
    // HostToContainer is a recursive slave mount, as the kubelet makes it
    const options = [m.readOnly && 'ro', m.mountPropagation === 'HostToContainer' && 'rslave'].filter(Boolean);
    before.push('--volume', `${host}:${m.mountPath}${options.length ? `:${options.join(',')}` : ''}`);
  }
  const memory = c.resources?.limits?.memory;
  if (memory) before.push('--memory', String(bytes(memory)));
  for (const [k, v] of Object.entries({ ...environment(c, at), ...opts.env })) before.push('--env', `${k}=${v}`);
  return { before, after: c.args ?? [] };
}
