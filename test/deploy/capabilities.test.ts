// The DaemonSet's capability set, tried for real: the daemon and every tool it runs work in a sandbox built
// like its container (exactly those capabilities, no_new_privs, read-only root), and without any one of the
// added capabilities the thing the manifest's comment names breaks.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { kernelSkip, eventually } from '../helpers/env';
import { Lab } from '../lab/lab';
import { CLI, daemonProcess, freePort, sampleValue, type DaemonProcess } from './daemon-process';
import { find, resources, ROOT } from './manifests';
import { capName, runSandboxed, sandboxSkip, spawnSandboxed } from './sandbox';

interface Container { securityContext: { capabilities: { add: string[] } } }
const container = (find(resources(), 'DaemonSet').spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
const CAPS: readonly string[] = container.securityContext.capabilities.add;
const without = (cap: string) => CAPS.filter((c) => c !== cap);

const skip = kernelSkip ?? sandboxSkip();
const node = process.execPath;

/** A process of another uid in another netns, as a pod's would be. */
async function foreignProcess(ns: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '120'], { stdio: 'ignore' });
  await eventually(() => child.pid !== undefined && /^Uid:\s+65534/m.test(safeRead(`/proc/${child.pid}/status`)), 'the foreign process to run');
  return child;
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const CONNTRACK = `require(${JSON.stringify(`${ROOT}/dist/src/kernel/conntrack.js`)}).readConntrackStats()
  .then((s) => console.log(JSON.stringify(s)), (e) => { console.error(e.code || e.message); process.exit(3); })`;

// iptables-legacy's filter table, read from the kernel as the daemon reads it
const LEGACY = `require(${JSON.stringify(`${ROOT}/dist/src/kubeproxy/dumps.js`)}).readLegacyFilter('ipv4')
  .then((r) => console.log(r.fingerprint.length), (e) => { console.error(e.code, e.message); process.exit(3); })`;

describe('the DaemonSet\'s capabilities, in a sandbox like its container', { skip }, () => {
  let lab: Lab;
  let victim: ChildProcess;
  before(async () => {
    lab = await Lab.create({ pods: 1 });
    victim = await foreignProcess(lab.pods[0]!);
  });
  after(async () => {
    victim?.kill();
    await lab?.destroy();
  });

  test('the sandbox is what the manifest says: only those capabilities, no_new_privs, a read-only root', () => {
    const r = runSandboxed(CAPS, ['sh', '-c', 'grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs)" /proc/self/status; touch /.flapwatch-ro-probe']);
    assert.notEqual(r.code, 0, 'writing to / fails');
    assert.match(r.stderr, /Read-only file system/);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    const eff = /^CapEff:\s+([0-9a-f]+)$/m.exec(r.stdout)![1]!;
    const decoded = spawnSync('capsh', [`--decode=${eff}`], { encoding: 'utf8' }).stdout.trim().split('=').pop()!.split(',');
    assert.deepEqual(decoded.sort(), CAPS.map(capName).sort());
  });

  test('every tool flapwatch runs works with exactly these capabilities', () => {
    for (const argv of [['iptables-nft-save', '-t', 'filter'], ['iptables-legacy-save', '-t', 'filter'], ['ip6tables-legacy-save', '-t', 'filter'],
      ['nft', '-j', 'list', 'tables'], ['ip', 'link', 'show', 'lo']]) {
      const r = runSandboxed(CAPS, argv);
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    }
    assert.equal(runSandboxed(CAPS, [node, '-e', CONNTRACK]).code, 0, 'conntrack stats over ctnetlink');
    const legacy = runSandboxed(CAPS, [node, '-e', LEGACY]);
    assert.equal(legacy.code, 0, `iptables-legacy's tables from the kernel: ${legacy.stderr}`);
    assert.match(runSandboxed(CAPS, ['grep', '-m1', ' T nft_do_chain$', '/proc/kallsyms']).stdout, /^[0-9a-f]*[1-9a-f][0-9a-f]* T/, 'kallsyms shows addresses');
  });

  test('what the listen source reads of a pod\'s netns needs no SYS_PTRACE; only its ns link would', () => {
    const pid = victim.pid!;
    const files = ['netstat', 'fib_trie', 'if_inet6'].map((f) => `/proc/${pid}/net/${f}`).join(' ');
    const r = runSandboxed(CAPS, ['sh', '-c', `grep -q ListenOverflows /proc/${pid}/net/netstat && stat -c %i ${files} >/dev/null && cat ${files} >/dev/null && echo readable`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /readable/);
    assert.notEqual(runSandboxed(CAPS, ['readlink', `/proc/${pid}/ns/net`]).code, 0, 'ns/net needs ptrace access');
  });

  describe('the daemon', () => {
    let d: DaemonProcess;
    before(async () => {
      const port = await freePort();
      d = daemonProcess(spawnSandboxed(CAPS, [node, CLI, 'run', '--listen', `127.0.0.1:${port}`]), port);
      await d.ready();
    });
    after(async () => {
      assert.equal(await d?.stop(), 0);
    });

    test('starts its kernel sources', async () => {
      const samples = await d.samples();
      for (const source of ['drops', 'retransmits', 'dns']) assert.equal(sampleValue(samples, 'flapwatch_source_up', { source }), 1, source);
      for (const l of d.logs().filter((x) => x.up === false)) {
        assert.doesNotMatch(String(l.reason), /EPERM|EACCES|ermission|capabilit/i, `a source is down for lack of a privilege: ${l.msg}`);
      }
    });

    test('names where the kernel dropped a packet (kallsyms readable)', async () => {
      const undo = await lab.dropOnPath(0, 1);
      try {
        await lab.udpSend(lab.client, lab.podIp(0), 9000, 50);
      } finally {
        await undo();
      }
      const at = { reason: 'NETFILTER_DROP', location: 'nft_do_chain' };
      await eventually(async () => (sampleValue(await d.samples(), 'flapwatch_drops_total', at) ?? 0) >= 50, '50 drops at nft_do_chain', 15_000);
    });
  });

  describe('without one of them', () => {
    const daemonWithout = async (cap: string): Promise<string> => {
      const port = await freePort();
      const d = daemonProcess(spawnSandboxed(without(cap), [node, CLI, 'run', '--listen', `127.0.0.1:${port}`]), port);
      try {
        await d.ready();
        assert.equal(sampleValue(await d.samples(), 'flapwatch_source_up', { source: 'drops' }), 0);
        return String(d.logs().find((l) => l.source === 'drops')?.msg);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    };

    test('BPF: the tracer cannot load', async () => assert.match(await daemonWithout('BPF'), /drops source down: .*(EPERM|CAP_BPF)/));
    test('PERFMON: the tracing programs cannot load', async () => assert.match(await daemonWithout('PERFMON'), /drops source down: .*(EPERM|CAP_PERFMON|CAP_BPF)/));

    test('NET_ADMIN: the DNS programs (cgroup_skb, a networking type) cannot load', async () => {
      const port = await freePort();
      const d = daemonProcess(spawnSandboxed(without('NET_ADMIN'), [node, CLI, 'run', '--listen', `127.0.0.1:${port}`]), port);
      try {
        await d.ready();
        assert.equal(sampleValue(await d.samples(), 'flapwatch_source_up', { source: 'dns' }), 0);
        assert.match(String(d.logs().find((l) => l.source === 'dns')?.msg), /dns source down: EPERM .*CAP_NET_ADMIN/);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });

    test('NET_ADMIN: no conntrack over netlink, no nft rules', () => {
      const ct = runSandboxed(without('NET_ADMIN'), [node, '-e', CONNTRACK]);
      assert.equal(ct.code, 3);
      assert.match(ct.stderr, /EPERM/);
      assert.notEqual(runSandboxed(without('NET_ADMIN'), ['iptables-nft-save', '-t', 'filter']).code, 0);
      const legacy = runSandboxed(without('NET_ADMIN'), [node, '-e', LEGACY]);
      assert.equal(legacy.code, 3);
      assert.match(legacy.stderr, /EPERM .*needs CAP_NET_ADMIN/);
    });

    test('NET_RAW: no legacy iptables rules', () => {
      const r = runSandboxed(without('NET_RAW'), ['iptables-legacy-save', '-t', 'filter']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Permission denied/);
      const legacy = runSandboxed(without('NET_RAW'), [node, '-e', LEGACY]);
      assert.equal(legacy.code, 3);
      assert.match(legacy.stderr, /EPERM .*needs CAP_NET_RAW/);
    });

    test('SYSLOG: kallsyms hides every address', () => {
      const r = runSandboxed(without('SYSLOG'), ['grep', '-m1', ' T nft_do_chain$', '/proc/kallsyms']);
      assert.match(r.stdout, /^0+ T nft_do_chain$/m);
    });

    test('the manifest adds nothing these tests do not account for', () => {
      assert.deepEqual([...CAPS].sort(), ['BPF', 'NET_ADMIN', 'NET_RAW', 'PERFMON', 'SYSLOG']);
    });
  });
});
