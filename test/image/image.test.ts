// deploy/Dockerfile built for real with buildah, from stand-ins for its two Docker Hub bases (Debian from Debian's
// archive, Node from npm's registry), and run with podman as deploy/daemonset.yaml runs it, in a lab node's
// network namespace: every source up, a drop of a real iptables rule counted, SIGTERM exits 0 and leaves no BPF
// program loaded. Slow the first time (the stand-ins, the build's Debian packages); cached after.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseSamples, sampleValue, type Sample } from '../deploy/daemon-process';
import { eventually, kernelSkip, loadedProgramIds, programIdsHeldBy, unloaded } from '../helpers/env';
import { Lab } from '../lab/lab';
import { baseImages, buildImage, containerSkip, inspectImage, ROOT, runtimeFlags } from './containers';
import { daemonSetRun, type Placement } from './daemonset-run';
import { exec } from './debian';

const TAG = 'localhost/flapwatch-test/flapwatch:latest';
const PROFILE = '/usr/share/containers/seccomp.json';
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, string>;
const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();

/** Whether this podman's default profile allows bpf() under CAP_BPF (containers-common 0.60 and later). */
function defaultAllowsBpf(): boolean {
  const p = JSON.parse(readFileSync(PROFILE, 'utf8')) as { syscalls: { names: string[]; action: string; includes?: { caps?: string[] } }[] };
  return p.syscalls.some((s) => s.names.includes('bpf') && s.action === 'SCMP_ACT_ALLOW' && s.includes?.caps?.includes('CAP_BPF'));
}

interface Running { name: string; url: string; logs(): Promise<Record<string, unknown>[]>; samples(): Promise<Sample[]> }

describe('the image, built with buildah and run with podman as the DaemonSet runs it', { skip: kernelSkip ?? containerSkip }, () => {
  let lab: Lab;
  let at: Placement;
  const names: string[] = [];
  const files: string[] = [];

  before(async () => {
    await buildImage(TAG, await baseImages());
    lab = await Lab.create({ pods: 1 });
    at = { netns: lab.node, podIP: (await lab.linkToHost()).nodeIp, nodeName: 'lab-node' };
  }, { timeout: 30 * 60_000 });

  after(async () => {
    for (const name of names) await exec('podman', ['rm', '--force', '--time', '0', name]).catch(() => undefined);
    for (const f of files) rmSync(f, { force: true });
    await lab?.destroy();
  });

  /** The DaemonSet's container, started in the lab's node; no kubelet here, so its URL is switched off. */
  async function start(seccompProfile?: string): Promise<Running> {
    const name = `flapwatch-test-${process.pid}-${names.length}`;
    names.push(name);
    const { before: flags, after: args } = daemonSetRun(at, { seccompProfile, env: { FLAPWATCH_KUBELET_URL: 'none' } });
    await exec('podman', ['run', '--detach', '--name', name, ...runtimeFlags(), ...flags, TAG, ...args]);
    const url = `http://${at.podIP}:9807`;
    const logs = async () => (await exec('podman', ['logs', name])).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    await eventually(async () => {
      const state = (await exec('podman', ['inspect', '--format', '{{.State.Status}}', name])).trim();
      if (state !== 'running') throw new Error(`the container is ${state}: ${await exec('podman', ['logs', name])}`);
      return (await fetch(`${url}/readyz`).catch(() => null))?.status === 200;
    }, 'the daemon in the container to be ready', 30_000);
    return { name, url, logs, samples: async () => parseSamples(await (await fetch(`${url}/metrics`)).text()) };
  }

  /** SIGTERM as kubelet sends it, with the manifest's grace period; the exit code. */
  async function stop(c: Running): Promise<number> {
    await exec('podman', ['stop', '--time', '10', c.name]);
    return Number((await exec('podman', ['inspect', '--format', '{{.State.ExitCode}}', c.name])).trim());
  }

  test('is labelled with what it is, from package.json and git', async () => {
    const { labels } = await inspectImage(TAG);
    assert.equal(labels['org.opencontainers.image.title'], pkg.name);
    assert.equal(labels['org.opencontainers.image.description'], pkg.description);
    assert.equal(labels['org.opencontainers.image.licenses'], pkg.license);
    assert.equal(labels['org.opencontainers.image.version'], pkg.version);
    assert.equal(labels['org.opencontainers.image.revision'], git('rev-parse', 'HEAD'));
    assert.match(labels['org.opencontainers.image.source'] ?? '', /^https:\/\//);
    assert.ok(Math.abs(Date.parse(labels['org.opencontainers.image.created'] ?? '') - Date.now()) < 24 * 3600_000, 'created today');
    const version = await exec('podman', ['run', '--rm', ...runtimeFlags(), TAG, '--version']);
    assert.equal(version, `flapwatch ${pkg.version} (revision ${git('rev-parse', 'HEAD')}, Node.js v${process.versions.node})\n`);
  });

  test('ships Node without its headers, npm or a compiler, and no type declarations or source maps', async () => {
    const look = 'for p in /usr/local/include/node /usr/local/lib/node_modules /usr/local/bin/npm /usr/bin/gcc /usr/bin/clang /usr/bin/make /usr/bin/python3; do [ -e $p ] && echo $p; done;'
      + ' find /opt/flapwatch \\( -name "*.d.ts" -o -name "*.map" \\) | head -3; ls /opt/flapwatch/build/Release';
    const found = await exec('podman', ['run', '--rm', ...runtimeFlags(), '--entrypoint', 'sh', TAG, '-c', look]);
    assert.equal(found, 'flapwatch.node\n');
  });

  test('under this podman\'s default seccomp profile bpf() fails with EPERM despite CAP_BPF', { skip: defaultAllowsBpf() && `${PROFILE} allows bpf() under CAP_BPF` }, async () => {
    const c = await start();
    const up = sampleValue(await c.samples(), 'flapwatch_source_up', { source: 'drops' });
    const line = (await c.logs()).find((l) => l.source === 'drops');
    assert.equal(await stop(c), 0);
    assert.equal(up, 0);
    assert.match(String(line?.msg), /drops source down: .*EPERM/);
  });

  test('runs: every source up, a real drop counted, SIGTERM exits 0 and leaves no BPF program', async () => {
    let profile: string | undefined;
    if (!defaultAllowsBpf()) {
      // the guide's fix for runtimes whose profile predates containers-common 0.60
      profile = path.join(tmpdir(), `flapwatch-seccomp-${process.pid}.json`);
      files.push(profile);
      writeFileSync(profile, await exec('jq', ['-f', path.join(ROOT, 'deploy', 'seccomp', 'allow-bpf.jq'), PROFILE]));
    }
    const loadedBefore = loadedProgramIds();
    const c = await start(profile);
    const pid = Number((await exec('podman', ['inspect', '--format', '{{.State.Pid}}', c.name])).trim());
    const held = programIdsHeldBy(pid);
    assert.ok(held.length > 0 && held.every((id) => !loadedBefore.has(id)), `the daemon loaded its programs: ${held.join(', ')}`);

    const up = (await c.samples()).filter((s) => s.name === 'flapwatch_source_up');
    assert.deepEqual(Object.fromEntries(up.map((s) => [s.labels.source, s.value])),
      { connections: 1, conntrack: 1, dns: 1, drop_samples: 1, drops: 1, kubeproxy: 1, listen_overflows: 1, retransmits: 1 });
    const startup = (await c.logs()).filter((l) => typeof l.source === 'string' && 'up' in l);
    assert.deepEqual(startup.filter((l) => l.up !== true || l.reason), [], 'no source down or up partly');

    const dropped = async () => sampleValue(await c.samples(), 'flapwatch_drops_total', { reason: 'NETFILTER_DROP' }) ?? 0;
    const base = await dropped();
    const undo = await lab.dropOnPath(0, 1);
    try {
      await lab.udpSend(lab.client, lab.podIp(0), 9000, 50);
    } finally {
      await undo();
    }
    await eventually(async () => (await dropped()) - base >= 50, '50 NETFILTER_DROP drops counted', 15_000);

    assert.equal(await stop(c), 0);
    await unloaded(held, 'the daemon\'s BPF programs to be unloaded');
  });
});
