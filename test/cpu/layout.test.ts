// Finding the cpu controller and kubelet's pod cgroups in fixture trees: both drivers, both cgroup versions, every QoS
// tier, a --cgroup-root, static pods' UIDs, and what is not a pod.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { detectHierarchy, findPodCgroups, type CgroupDriver } from '../../src/cpu/layout';
import { containerCgroupName, containerId, FixtureTree, podCgroupPath } from './fixture-tree';

const ZERO = { periods: 0, throttled: 0, throttledUs: 0, usageUs: 0 };
const noTrouble = { vanished: (rel: string) => assert.fail(`vanished ${rel}`), failed: (rel: string) => assert.fail(`failed ${rel}`) };

test('kubelet names pod cgroups the way its cgroup manager does', () => {
  const uid = '1234abcd-0000-4000-8000-00000000abcd';
  assert.equal(podCgroupPath('systemd', 'burstable', uid),
    'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234abcd_0000_4000_8000_00000000abcd.slice');
  assert.equal(podCgroupPath('systemd', 'guaranteed', uid), 'kubepods.slice/kubepods-pod1234abcd_0000_4000_8000_00000000abcd.slice');
  assert.equal(podCgroupPath('systemd', 'besteffort', uid, 'foo.slice'),
    'foo.slice/foo-kubepods.slice/foo-kubepods-besteffort.slice/foo-kubepods-besteffort-pod1234abcd_0000_4000_8000_00000000abcd.slice');
  assert.equal(podCgroupPath('cgroupfs', 'burstable', uid), `kubepods/burstable/pod${uid}`);
  assert.equal(podCgroupPath('cgroupfs', 'guaranteed', uid, 'custom'), `custom/kubepods/pod${uid}`);
});

test('the hierarchy: v2 with cpu, v2 without, v1 co-mounted, v1 apart with a hybrid unified, none', (t) => {
  const trees: FixtureTree[] = [];
  t.after(() => trees.forEach((tr) => tr.destroy()));
  const tree = (opts: ConstructorParameters<typeof FixtureTree>[0]) => {
    const tr = new FixtureTree(opts);
    trees.push(tr);
    return tr;
  };
  const v2 = tree({ version: 2 });
  assert.deepEqual(detectHierarchy(v2.root), { version: 2, cpu: v2.root, pressure: v2.root });
  const v1 = tree({ version: 1 });
  assert.deepEqual(detectHierarchy(v1.root), { version: 1, cpu: path.join(v1.root, 'cpu,cpuacct'), cpuacct: path.join(v1.root, 'cpu,cpuacct') });
  const hybrid = tree({ version: 1, v1Split: true, hybrid: true });
  assert.deepEqual(detectHierarchy(hybrid.root), {
    version: 1, cpu: path.join(hybrid.root, 'cpu'), cpuacct: path.join(hybrid.root, 'cpuacct'), pressure: path.join(hybrid.root, 'unified'),
  });
  const noCpu = tree({ version: 2 });
  fs.writeFileSync(path.join(noCpu.root, 'cgroup.controllers'), 'memory pids\n');
  assert.match(detectHierarchy(noCpu.root) as string, /cgroup v2 at .* lists no cpu controller \(cgroup.controllers: "memory pids"\)/);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'flapwatch-cgroups-'));
  t.after(() => fs.rmSync(empty, { recursive: true }));
  assert.match(detectHierarchy(empty) as string, /^no cpu controller under /);
});

for (const driver of ['systemd', 'cgroupfs'] as CgroupDriver[]) {
  for (const cgroupRoot of ['', driver === 'systemd' ? 'foo.slice' : 'custom']) {
    test(`pods found by UID: ${driver} driver, --cgroup-root "${cgroupRoot}"`, (t) => {
      const tree = new FixtureTree({ version: 2 });
      t.after(() => tree.destroy());
      const guaranteed = randomUUID();
      const burstable = randomUUID();
      const staticPod = 'f0e1d2c3b4a5968778695a4b3c2d1e0f'; // a static pod's UID: its manifest's hash
      const ids = [containerId(), containerId(), containerId()];
      tree.set(path.join(podCgroupPath(driver, 'guaranteed', guaranteed, cgroupRoot), containerCgroupName(driver, ids[0] as string)), ZERO);
      const b = podCgroupPath(driver, 'burstable', burstable, cgroupRoot);
      tree.set(path.join(b, containerCgroupName(driver, ids[1] as string, 'crio')), ZERO);
      tree.set(path.join(b, containerCgroupName(driver, ids[2] as string, 'docker')), ZERO);
      if (driver === 'systemd') tree.set(path.join(b, `crio-conmon-${ids[2]}.scope`), ZERO);
      tree.set(podCgroupPath(driver, 'besteffort', staticPod, cgroupRoot), ZERO);
      // not pods: a QoS tier's own files, a stray directory, a systemd unit beside kubepods
      tree.set(path.join(path.dirname(b), 'stray'), ZERO);
      tree.set(path.join(cgroupRoot, 'system.slice', 'containerd.service'), ZERO);
      const { pods, kubepods } = findPodCgroups(tree.root, cgroupRoot, noTrouble);
      assert.equal(kubepods, 1);
      const byUid = new Map(pods.map((p) => [p.uid, p]));
      assert.deepEqual([...byUid.keys()].sort(), [guaranteed, burstable, staticPod].sort());
      assert.deepEqual(byUid.get(guaranteed), {
        uid: guaranteed, driver, qos: 'guaranteed', path: podCgroupPath(driver, 'guaranteed', guaranteed, cgroupRoot),
        containers: [{ id: ids[0], path: path.join(podCgroupPath(driver, 'guaranteed', guaranteed, cgroupRoot), containerCgroupName(driver, ids[0] as string)) }],
      });
      const bc = byUid.get(burstable)?.containers.map((c) => c.id).sort();
      const expected = [ids[1], ids[2], ...(driver === 'systemd' ? [`crio-conmon-${ids[2]}.scope`] : [])].sort();
      assert.deepEqual(bc, expected, 'container IDs from the runtimes\' names; an unknown name kept whole');
      assert.equal(byUid.get(staticPod)?.qos, 'besteffort');
      assert.deepEqual(byUid.get(staticPod)?.containers, []);
    });
  }
}

test('a --cgroup-root that is not there throws; trouble below it is told, not thrown', (t) => {
  const tree = new FixtureTree({ version: 2 });
  t.after(() => tree.destroy());
  assert.throws(() => findPodCgroups(tree.root, 'missing', noTrouble), /ENOENT/);
  const uid = randomUUID();
  const pod = podCgroupPath('cgroupfs', 'burstable', uid);
  tree.set(pod, ZERO);
  fs.writeFileSync(path.join(tree.root, 'kubepods', 'pod-not-a-dir'), ''); // files never count
  const told: string[] = [];
  const found = findPodCgroups(tree.root, '', { vanished: (rel) => told.push(`vanished ${rel}`), failed: (rel) => told.push(`failed ${rel}`) });
  assert.deepEqual(found.pods.map((p) => p.uid), [uid]);
  assert.deepEqual(told, []);
});
