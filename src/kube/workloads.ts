// The workload that runs a pod, from its controller: what a service graph names instead of pods, so that its
// labels stay bounded. A Deployment's pods are owned by a ReplicaSet named after the Deployment and the pod
// template's hash; a CronJob's by a Job named after the CronJob and its scheduled time (pkg/controller/cronjob).
import { barePods, type Workload } from '../observe/objects';
import { arr, str, type WirePod } from './wire';

const CRONJOB_RUN = /^(.+)-\d{8,}$/;

export function workloadOf(pod: WirePod, namespace: string): Workload {
  const owner = arr(pod.metadata?.ownerReferences).find((o) => o.controller === true);
  const kind = str(owner?.kind);
  const name = str(owner?.name);
  if (!kind || !name) return barePods(namespace);
  const hash = str(pod.metadata?.labels?.['pod-template-hash']);
  if (kind === 'ReplicaSet' && hash && name.endsWith(`-${hash}`)) return { namespace, kind: 'Deployment', name: name.slice(0, -hash.length - 1) };
  const cron = kind === 'Job' ? CRONJOB_RUN.exec(name) : null;
  if (cron) return { namespace, kind: 'CronJob', name: cron[1]! };
  return { namespace, kind, name };
}
