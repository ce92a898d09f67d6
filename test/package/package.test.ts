// The npm package installs without a compiler: `npm pack` (prebuildify's addon, with its CO-RE BPF object, and
// the compiled daemon), then `npm install` of the tarball in a Debian root filesystem made with mmdebstrap that
// holds only the image's runtime packages and Node (from npm's registry), and `flapwatch snapshot` there, in a
// chroot, sees a drop this test makes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SnapshotReport } from '../../src/report/snapshot-summary';
import { runtimePackages } from '../deploy/dockerfile';
import { kernelSkip } from '../helpers/env';
import { npmSettings, ROOT } from '../image/containers';
import { debianTarball, exec } from '../image/debian';
import { nodeTree } from '../image/node-dist';

function whyNot(): string | undefined {
  if (kernelSkip) return kernelSkip;
  if (spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).status !== 0) return 'needs git and the repository\'s .git (npm pack takes the revision from it)';
  return undefined;
}

// What a machine for installing may not have: a compiler, make, python (node-gyp's), development headers.
const BUILD_TOOLS = ['usr/bin/cc', 'usr/bin/gcc', 'usr/bin/g++', 'usr/bin/clang', 'usr/bin/make', 'usr/bin/python3', 'usr/include/bpf', 'usr/include/libelf.h'];

/** Runs a shell command chrooted into `root`, with the machine's /proc, /sys and /dev in a private mount namespace (gone with it). */
function inChroot(root: string, command: string): Promise<string> {
  const mounts = ['proc', 'sys', 'dev'].map((d) => `mount --rbind /${d} "$1/${d}"`).join(' && ');
  return exec('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `${mounts} && exec chroot "$1" /bin/sh -c "$2"`, 'sh', root, command], {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C.UTF-8' },
  });
}

describe('the npm package, installed where there is no compiler', { skip: whyNot() }, () => {
  let work: string;
  let root: string;
  let tarball: string;
  let installLog = '';

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'flapwatch-package-'));
    // npm pack from a copy of the working tree: its prepack rebuilds dist/, which the running suite reads
    const src = path.join(work, 'src');
    const files = (await exec('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT })).split('\0').filter(Boolean);
    for (const f of files.filter((x) => existsSync(path.join(ROOT, x)))) cpSync(path.join(ROOT, f), path.join(src, f), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'));
    const revision = (await exec('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).trim();
    await exec('npm', ['pack', '--pack-destination', work], { cwd: src, env: { ...process.env, FLAPWATCH_REVISION: revision } });
    tarball = path.join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);

    root = path.join(work, 'root');
    mkdirSync(root);
    await exec('tar', ['-xf', await debianTarball(runtimePackages()), '-C', root]);
    await nodeTree(path.join(root, 'usr', 'local'));
    for (const [from, to] of [...npmSettings(work, '/usr/local/etc/npmrc'), ['/etc/resolv.conf', '/etc/resolv.conf'] as [string, string]]) {
      mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
      copyFileSync(from, path.join(root, to));
    }
    copyFileSync(tarball, path.join(root, 'tmp', path.basename(tarball)));
    mkdirSync(path.join(root, 'opt', 'flapwatch'));
    installLog = await inChroot(root, `cd /opt/flapwatch && npm install --no-audit --no-fund --foreground-scripts /tmp/${path.basename(tarball)} 2>&1`);
  }, { timeout: 15 * 60_000 });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the tarball holds the compiled daemon, the prebuilt addon and its sources; no tests, TypeScript or build directory', async () => {
    const entries = (await exec('tar', ['-tzf', tarball])).split('\n').filter(Boolean).map((e) => e.replace(/^package\//, ''));
    assert.ok(entries.includes('dist/src/cli.js') && entries.includes('dist/src/build-info.json'));
    assert.ok(entries.includes(`prebuilds/linux-${process.arch}/flapwatch.glibc.node`), entries.filter((e) => e.startsWith('prebuilds')).join(', '));
    assert.ok(entries.includes('binding.gyp') && entries.includes('native/bpf/drops.bpf.c'), 'a machine no prebuild fits builds from source');
    const unwanted = entries.filter((e) => /^(test|bench|src|build|scripts|deploy)\//.test(e) || e.startsWith('dist/test') || /\.(ts|map)$/.test(e));
    assert.deepEqual(unwanted, []);
  });

  test('the root filesystem has Node and the runtime libraries, and nothing to compile with', () => {
    assert.deepEqual(BUILD_TOOLS.filter((t) => existsSync(path.join(root, t))), []);
    const multiarch = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
    for (const lib of ['libbpf.so.1', 'libelf.so.1', 'libz.so.1', 'libmnl.so.0']) assert.ok(existsSync(path.join(root, 'usr/lib', multiarch, lib)), lib);
  });

  test('npm install used the prebuild: no build was tried', () => {
    assert.match(installLog, /added \d+ packages?/);
    assert.doesNotMatch(installLog, /gyp (info|ERR)|node-gyp rebuild|make: /);
    assert.ok(!existsSync(path.join(root, 'opt/flapwatch/node_modules/flapwatch/build')), 'no build directory');
  });

  test('the prebuilt addon needs libbpf1, libelf1, zlib1g and libmnl0 besides the C and C++ runtimes, and carries its BPF object', async () => {
    const addon = `/opt/flapwatch/node_modules/flapwatch/prebuilds/linux-${process.arch}/flapwatch.glibc.node`;
    const ldd = await inChroot(root, `ldd ${addon}`);
    assert.doesNotMatch(ldd, /not found/);
    const libs = [...ldd.matchAll(/^\s*(\S+\.so[.\d]*)\s/gm)].map((m) => m[1]!).filter((l) => !/^(linux-vdso|\/lib64\/ld-linux|ld-linux)/.test(l)).sort();
    assert.deepEqual(libs, ['libbpf.so.1', 'libc.so.6', 'libelf.so.1', 'libgcc_s.so.1', 'libm.so.6', 'libmnl.so.0', 'libstdc++.so.6', 'libz.so.1']);
    // the libbpf skeleton embeds the compiled object: its programs' section names are in the addon
    const bytes = readFileSync(path.join(root, addon));
    for (const section of ['tp_btf/kfree_skb', '.BTF']) assert.ok(bytes.includes(section), section);
  });

  test('flapwatch snapshot --duration 2 --json runs there and reports a drop made meanwhile', async () => {
    // UDP to a closed port on the loopback: the kernel frees each datagram with NO_SOCKET
    const sock = createSocket('udp4');
    const port = await new Promise<number>((resolve) => {
      const probe = createSocket('udp4').bind(0, '127.0.0.1', () => {
        const p = probe.address().port;
        probe.close(() => resolve(p));
      });
    });
    const sender = setInterval(() => sock.send('flapwatch', port, '127.0.0.1'), 50);
    let out: string;
    try {
      out = await inChroot(root, 'cd /opt/flapwatch && node_modules/.bin/flapwatch snapshot --duration 2 --json');
    } finally {
      clearInterval(sender);
      sock.close();
    }
    const report = JSON.parse(out) as SnapshotReport;
    assert.ok(report.durationSeconds >= 2, JSON.stringify(report.durationSeconds));
    const ours = report.drops.find((d) => d.reason === 'NO_SOCKET' && d.proto === 'udp' && d.destination.ip === '127.0.0.1' && d.destination.port === port);
    assert.ok(ours && ours.packets > 0, `a NO_SOCKET drop to 127.0.0.1:${port} in ${JSON.stringify(report.drops)}`);
    assert.ok(report.conntrack === undefined || report.conntrack.max > 0);
    const version = await inChroot(root, '/opt/flapwatch/node_modules/.bin/flapwatch --version');
    assert.match(version, /^flapwatch \d+\.\d+\.\d+ \(revision [0-9a-f]{40}, Node\.js v[\d.]+\)\n$/);
  });
});
