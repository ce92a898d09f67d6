// The lab itself: kube-proxy's chain names and rule text, then a real lab (root only) and every fault injector.
// Run alone (`--test-concurrency=1`): conntrackFull changes the global nf_conntrack_max.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { sepChain, svcChain } from './kube-hash';
import { renderRules } from './kube-rules';
import { Lab } from './lab';
import { udpflood } from './udpflood';

const CT_MAX = '/proc/sys/net/netfilter/nf_conntrack_max';

function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, iptables, tc)';
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

// Vectors from kube-proxy's proxier tests (see /work/shared/reference/kube-proxy.md).
test('chain names hash like kube-proxy', () => {
  assert.equal(svcChain('default/kubernetes:https', 'tcp'), 'KUBE-SVC-NPX46M4PTMTKRN6Y');
  assert.equal(svcChain('kube-system/kube-dns:dns', 'udp'), 'KUBE-SVC-TCOU7JCQXEZGVUNU');
  assert.equal(svcChain('ns1/svc1:p80', 'tcp'), 'KUBE-SVC-XPGD46QRK7WJZT7O');
  assert.equal(sepChain('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
  assert.equal(sepChain('ns1/svc1:p80', 'tcp', '10.180.2.1:80'), 'KUBE-SEP-ZX7GRIZKSNUQ3LAJ');
});

test('rules render as in kube-proxy\'s fixture, and a Service losing its endpoints becomes a REJECT', () => {
  const svc = {
    namespace: 'ns1', name: 'svc1', portName: 'p80', protocol: 'tcp' as const, clusterIP: '172.30.0.41', port: 80,
    endpoints: [{ podIndex: 0, port: 80 }, { podIndex: 1, port: 80 }],
  };
  const ips = ['10.180.0.1', '10.180.2.1'];
  const first = renderRules([svc], ips);
  const lines = first.text.split('\n');
  for (const line of [
    '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
    '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
  ]) assert.ok(lines.includes(line), `missing: ${line}\n${first.text}`);
  assert.deepEqual(first.chains, ['KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-SEP-SXIVWICOYRO3J4NJ', 'KUBE-SEP-ZX7GRIZKSNUQ3LAJ']);

  const second = renderRules([{ ...svc, endpoints: [] }], ips, first.chains);
  const after = second.text.split('\n');
  assert.ok(after.includes('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT'));
  for (const chain of first.chains) assert.ok(after.includes(`-X ${chain}`), `stale ${chain} not deleted`);
  assert.deepEqual(second.chains, []);
});

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

test('a lab on the iptables-legacy backend serves its ClusterIP', { timeout: 60_000 }, async (t) => {
  const reason = labUnavailable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const lab = await Lab.create({ pods: 1, backend: 'legacy' });
  try {
    const web = lab.service('web');
    assert.equal((await lab.httpGet(lab.client, web.clusterIP, web.port)).status, 200);
    assert.match((await lab.exec(lab.node, 'iptables-legacy-save', ['-t', 'nat'])).stdout, /-j KUBE-SVC-/);
  } finally {
    await lab.destroy();
  }
  assert.deepEqual(namespacesOf(lab.prefix), []);
});
