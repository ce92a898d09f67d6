// The lab itself (root only): every fault injector, cleanup, and each way kube-proxy may program the node.
// The rules it loads are test/kubeproxy/render*.ts's, tested against kube-proxy's fixtures there.
// Run alone (`--test-concurrency=1`): conntrackFull changes the global nf_conntrack_max.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { rootSkip } from '../helpers/env';
import { Lab } from './lab';
import { udpflood } from './udpflood';

const CT_MAX = '/proc/sys/net/netfilter/nf_conntrack_max';

function labUnavailable(): string | undefined {
  if (rootSkip) return rootSkip;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (err) {
    return `ip netns is unusable here: ${(err as Error).message}`;
  }
  if (!fs.existsSync(CT_MAX)) return `${CT_MAX} is missing (nf_conntrack not loaded)`;
  return undefined;
}

/** Processes whose command line names the lab (its pod servers carry `--name PREFIX-pN`). */
function processesOf(prefix: string): string[] {
  return fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(prefix);
    } catch {
      return false; // exited meanwhile
    }
  });
}

function namespacesOf(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(prefix));
}

test('a lab: Services, faults, cleanup', { timeout: 180_000 }, async (t) => {
  const reason = labUnavailable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const ctBefore = fs.readFileSync(CT_MAX, 'utf8').trim();
  const lab = await Lab.create({ services: [{ name: 'web', portName: 'http' }, { name: 'empty', endpoints: [] }] });
  const web = lab.service('web');
  const getWeb = (timeoutMs = 2000) => lab.httpGet(lab.client, web.clusterIP, web.port, '/health', timeoutMs);
  try {
    await t.test('comes up, and the node inode is the kernel\'s netns inum', async () => {
      assert.equal(namespacesOf(lab.prefix).length, 4);
      const link = (await lab.exec(lab.node, 'readlink', ['/proc/self/ns/net'])).stdout.trim();
      assert.equal(link, `net:[${lab.nodeInode}]`);
    });

    await t.test('client → ClusterIP → pod /health answers 200 JSON through the DNAT', async () => {
      const r = await getWeb();
      assert.equal(r.status, 200, JSON.stringify(r));
      const body = JSON.parse(r.body ?? '') as { status: string; pod: string };
      assert.equal(body.status, 'ok');
      assert.ok(lab.pods.includes(body.pod));
    });

    await t.test('a Service with no endpoints is refused', async () => {
      const empty = lab.service('empty');
      assert.equal((await lab.tcpConnect(lab.client, empty.clusterIP, empty.port, 2000)).error, 'ECONNREFUSED');
    });

    await t.test('rejectService refuses, undo serves again', async () => {
      const undo = await lab.rejectService('web');
      assert.equal((await getWeb()).error, 'ECONNREFUSED');
      await undo();
      assert.equal((await getWeb()).status, 200);
    });

    await t.test('dropOnPath(…, 1) times the request out, undo restores it', async () => {
      const undos = [await lab.dropOnPath(0, 1), await lab.dropOnPath(1, 1)];
      assert.equal((await getWeb(1000)).error, 'ETIMEDOUT');
      for (const undo of undos) await undo();
      assert.equal((await getWeb()).status, 200);
    });

    await t.test('failHealth answers 503 with the failing check', async () => {
      const undo = await lab.failHealth(0);
      const r = await lab.httpGet(lab.client, lab.podIp(0), lab.podPort);
      assert.equal(r.status, 503);
      assert.deepEqual((JSON.parse(r.body ?? '') as { checks: unknown }).checks, { db: { status: 'down' } });
      await undo();
      assert.equal((await lab.httpGet(lab.client, lab.podIp(0), lab.podPort)).status, 200);
    });

    await t.test('stopAccepting overflows the listen queue', async () => {
      const undo = await lab.stopAccepting(0);
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await lab.tcpConnect(lab.client, lab.podIp(0), lab.podPort, 500));
      assert.ok(results.some((r) => r.error === 'ETIMEDOUT'), JSON.stringify(results));
      const nstat = (await lab.exec(lab.pods[0] as string, 'nstat', ['-az', 'TcpExtListenOverflows'])).stdout;
      assert.match(nstat, /TcpExtListenOverflows\s+[1-9]/);
      await undo();
      assert.equal((await lab.httpGet(lab.client, lab.podIp(0), lab.podPort)).status, 200);
    });

    await t.test('tbfDrop drops a udpflood toward the pod in a qdisc', async () => {
      const undo = await lab.tbfDrop(1);
      const flood = await udpflood(lab.client, { dst: lab.podIp(1), firstPort: 9000, ports: 50, count: 2000, payloadBytes: 512 });
      assert.equal(flood.sent, 2000);
      const qdisc = (await lab.exec(lab.node, 'tc', ['-s', 'qdisc', 'show', 'dev', 'p1'])).stdout;
      assert.match(qdisc, /dropped [1-9]/, qdisc);
      await undo();
      assert.doesNotMatch((await lab.exec(lab.node, 'tc', ['qdisc', 'show', 'dev', 'p1'])).stdout, /tbf/);
    });

    await t.test('conntrackFull sets the global nf_conntrack_max and undo restores it', async () => {
      const undo = await lab.conntrackFull(64);
      assert.equal(fs.readFileSync(CT_MAX, 'utf8').trim(), '64');
      await undo();
      assert.equal(fs.readFileSync(CT_MAX, 'utf8').trim(), ctBefore);
      await lab.conntrackFull(128); // left in place: destroy() must restore it
    });
  } finally {
    await lab.destroy();
  }
  await lab.destroy(); // idempotent
  assert.equal(fs.readFileSync(CT_MAX, 'utf8').trim(), ctBefore);
  assert.deepEqual(namespacesOf(lab.prefix), []);
  assert.deepEqual(processesOf(lab.prefix), []);
});

for (const [kubeProxy, listing] of [['iptables-legacy', ['iptables-legacy-save', '-t', 'nat']], ['nftables', ['nft', 'list', 'table', 'ip', 'kube-proxy']]] as const) {
  test(`a lab in kube-proxy mode ${kubeProxy} serves its ClusterIP, and a Service without endpoints is refused`, { timeout: 60_000 }, async (t) => {
    const reason = labUnavailable();
    if (reason) {
      t.skip(reason);
      return;
    }
    const lab = await Lab.create({ pods: 1, kubeProxy, services: [{ name: 'web', portName: 'http' }, { name: 'gone', endpoints: [] }] });
    try {
      const web = lab.service('web');
      assert.equal((await lab.httpGet(lab.client, web.clusterIP, web.port)).status, 200);
      assert.match((await lab.exec(lab.node, listing[0], listing.slice(1))).stdout, kubeProxy === 'nftables' ? /dnat to 10\.77\./ : /-j KUBE-SVC-/);
      const gone = lab.service('gone');
      assert.equal((await lab.tcpConnect(lab.client, gone.clusterIP, gone.port)).error, 'ECONNREFUSED');
      const undo = await lab.dropOnPath(0, 1);
      await lab.rejectService('web').then((restore) => restore()); // a re-sync keeps the lab's fault rule
      assert.equal((await lab.httpGet(lab.client, web.clusterIP, web.port, '/health', 500)).error, 'ETIMEDOUT');
      await undo();
      assert.equal((await lab.httpGet(lab.client, web.clusterIP, web.port)).status, 200);
    } finally {
      await lab.destroy();
    }
    assert.deepEqual(namespacesOf(lab.prefix), []);
  });
}
