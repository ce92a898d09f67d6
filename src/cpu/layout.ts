// Where the cpu controller is mounted, and where kubelet puts each pod's cgroup in it.
//
// kubelet names a pod's cgroup {--cgroup-root, "kubepods", [qos tier], "pod" + UID}: guaranteed pods sit directly
// under kubepods, burstable and besteffort ones under a tier of that name (kubernetes pkg/kubelet/cm:
// qos_container_manager_linux.go Start, pod_container_manager_linux.go GetPodContainerName). The cgroupfs driver
// joins the components as a path (CgroupName.ToCgroupfs); the systemd driver turns '-' into '_' inside each, joins
// them with '-' and expands the slice (CgroupName.ToSystemd in cgroup_manager_linux.go: {"kubepods", "burstable",
// "pod1234-abcd"} is /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_abcd.slice), so a
// --cgroup-root of /foo.slice prefixes every name with "foo-". A container's cgroup is a child of its pod's:
// containerd puts it at <pod>/<id> under cgroupfs, and under systemd asks runc for "<pod slice>:cri-containerd:<id>"
// (getCgroupsPath in its CRI plugin), a unit runc names "<prefix>-<id>.scope" (libcontainer/cgroups/systemd
// getUnitName); CRI-O's prefix is crio (its conmon gets crio-conmon-<id>.scope), cri-dockerd's docker.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type CgroupDriver = 'cgroupfs' | 'systemd';
export type QosTier = 'guaranteed' | 'burstable' | 'besteffort';

/** Paths are relative to the hierarchy's mount, so one path serves every v1 controller. */
export interface ContainerCgroup {
  /** the runtime's container ID where the directory name carries one, else the directory name */
  id: string;
  path: string;
}

export interface PodCgroup {
  uid: string;
  driver: CgroupDriver;
  qos: QosTier;
  path: string;
  containers: ContainerCgroup[];
}

/** The mounts to read: where cpu.stat lives, and beside it cpuacct.usage (v1) and cpu.pressure (PSI). */
export interface CpuHierarchy {
  version: 1 | 2;
  /** the mount of the cpu controller: the unified root (v2), or `cpu,cpuacct` or `cpu` (v1) */
  cpu: string;
  /** v1 only: the mount holding cpuacct.usage (v2's cpu.stat has usage_usec) */
  cpuacct?: string;
  /** a cgroup2 mount for cpu.pressure: the unified root itself, or a hybrid host's `unified` without controllers */
  pressure?: string;
}

/** The hierarchy under `root` (a host's /sys/fs/cgroup), or why none has the cpu controller. */
export function detectHierarchy(root: string): CpuHierarchy | string {
  const controllers = readOptional(path.join(root, 'cgroup.controllers'));
  if (controllers !== undefined) {
    if (controllers.split(/\s+/).includes('cpu')) return { version: 2, cpu: root, pressure: root };
    return `cgroup v2 at ${root} lists no cpu controller (cgroup.controllers: "${controllers.trim()}")`;
  }
  const cpu = ['cpu,cpuacct', 'cpu'].map((d) => path.join(root, d)).find((d) => fs.existsSync(path.join(d, 'cpu.stat')));
  if (!cpu) return `no cpu controller under ${root}: neither cgroup v2 (cgroup.controllers) nor v1 (cpu,cpuacct or cpu with cpu.stat)`;
  const cpuacct = ['cpu,cpuacct', 'cpuacct'].map((d) => path.join(root, d)).find((d) => fs.existsSync(path.join(d, 'cpuacct.usage')));
  const unified = path.join(root, 'unified');
  const pressure = fs.existsSync(path.join(unified, 'cgroup.controllers')) ? unified : undefined;
  return { version: 1, cpu, ...(cpuacct ? { cpuacct } : {}), ...(pressure ? { pressure } : {}) };
}

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** What a walk met besides pods: directories (relative) gone between listing and reading, and unreadable ones. */
export interface WalkTrouble {
  vanished(rel: string): void;
  failed(rel: string, err: unknown): void;
}

/**
 * The pod cgroups under `cgroupRoot` (kubelet's --cgroup-root, relative) of the hierarchy mounted at `mount`.
 * Throws when that directory cannot be listed; trouble below it is told to `trouble` and skipped.
 */
export function findPodCgroups(mount: string, cgroupRoot: string, trouble: WalkTrouble): { pods: PodCgroup[]; kubepods: number } {
  const pods: PodCgroup[] = [];
  let kubepods = 0;
  const base = path.posix.normalize(`/${cgroupRoot}/`).slice(1, -1);
  for (const name of listDirs(`${mount}/${base}`)) {
    const driver = kubepodsDriver(name);
    if (!driver) continue;
    kubepods++;
    const top = sub(base, name);
    for (const child of subdirs(mount, top, trouble) ?? []) {
      const uid = podUid(child, driver);
      if (uid !== undefined) {
        addPod(mount, pods, { uid, driver, qos: 'guaranteed', path: `${top}/${child}` }, trouble);
        continue;
      }
      const qos = qosTier(child, driver);
      if (!qos) continue;
      const tier = `${top}/${child}`;
      for (const pod of subdirs(mount, tier, trouble) ?? []) {
        const podId = podUid(pod, driver);
        if (podId !== undefined) addPod(mount, pods, { uid: podId, driver, qos, path: `${tier}/${pod}` }, trouble);
      }
    }
  }
  return { pods, kubepods };
}

function addPod(mount: string, pods: PodCgroup[], pod: Omit<PodCgroup, 'containers'>, trouble: WalkTrouble): void {
  const children = subdirs(mount, pod.path, trouble);
  if (!children) return;
  pods.push({ ...pod, containers: children.map((name) => ({ id: containerId(name), path: `${pod.path}/${name}` })) });
}

// Paths are built by hand in the walk: path.join's normalizing is most of a listing's cost at hundreds of pods.
function sub(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function listDirs(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(e.name);
  return out;
}

/** Names of the subdirectories of mount/rel; undefined when it is gone or unreadable (told to `trouble`). */
function subdirs(mount: string, rel: string, trouble: WalkTrouble): string[] | undefined {
  try {
    return listDirs(`${mount}/${rel}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') trouble.vanished(rel);
    else trouble.failed(rel, err);
    return undefined;
  }
}

function kubepodsDriver(name: string): CgroupDriver | undefined {
  if (name === 'kubepods') return 'cgroupfs';
  if (name === 'kubepods.slice' || name.endsWith('-kubepods.slice')) return 'systemd';
  return undefined;
}

function qosTier(name: string, driver: CgroupDriver): QosTier | undefined {
  for (const tier of ['burstable', 'besteffort'] as const) {
    if (driver === 'cgroupfs' ? name === tier : name.endsWith(`-${tier}.slice`)) return tier;
  }
  return undefined;
}

// UIDs are UUIDs; a static pod's is a hex hash of its manifest. systemd's form has '_' for every '-'.
const CGROUPFS_POD = /^pod([0-9a-f][0-9a-f-]*)$/;
const SYSTEMD_POD = /-pod([0-9a-f][0-9a-f_]*)\.slice$/;

function podUid(name: string, driver: CgroupDriver): string | undefined {
  if (driver === 'cgroupfs') return CGROUPFS_POD.exec(name)?.[1];
  return SYSTEMD_POD.exec(name)?.[1]?.replace(/_/g, '-');
}

const SCOPE = /^(?:cri-containerd|crio|docker)-([0-9a-f]{64})\.scope$/;

function containerId(name: string): string {
  return SCOPE.exec(name)?.[1] ?? name;
}
