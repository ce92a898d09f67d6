import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workloadOf } from '../../src/kube/workloads';

const owned = (kind: string, name: string, labels: Record<string, string> = {}) => ({ metadata: { labels, ownerReferences: [{ kind, name, controller: true }] } });

test('a pod\'s workload: its controller, Deployments and CronJobs through their ReplicaSets and Jobs', () => {
  assert.deepEqual(workloadOf(owned('ReplicaSet', 'web-7d4b9c8f5d', { 'pod-template-hash': '7d4b9c8f5d' }), 'shop'), { namespace: 'shop', kind: 'Deployment', name: 'web' });
  assert.deepEqual(workloadOf(owned('ReplicaSet', 'orphan-rs'), 'shop'), { namespace: 'shop', kind: 'ReplicaSet', name: 'orphan-rs' }, 'no template hash: a ReplicaSet of its own');
  assert.deepEqual(workloadOf(owned('StatefulSet', 'db'), 'shop'), { namespace: 'shop', kind: 'StatefulSet', name: 'db' });
  assert.deepEqual(workloadOf(owned('DaemonSet', 'agent'), 'kube-system'), { namespace: 'kube-system', kind: 'DaemonSet', name: 'agent' });
  assert.deepEqual(workloadOf(owned('Job', 'report-29431540'), 'ops'), { namespace: 'ops', kind: 'CronJob', name: 'report' });
  assert.deepEqual(workloadOf(owned('Job', 'migrate'), 'ops'), { namespace: 'ops', kind: 'Job', name: 'migrate' });
  assert.deepEqual(workloadOf({ metadata: { ownerReferences: [{ kind: 'ReplicaSet', name: 'x', controller: false }] } }, 'a'), { namespace: 'a', kind: 'Pod', name: 'none' });
  assert.deepEqual(workloadOf({}, 'a'), { namespace: 'a', kind: 'Pod', name: 'none' }, 'a bare pod names no pod: labels stay bounded');
});
