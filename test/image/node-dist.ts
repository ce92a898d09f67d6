// Node.js from npm's registry rather than its download site: node-linux-<arch> carries the official build's
// binary and headers (the same bytes as the release tarball's), npm the package manager that tarball bundles.
// Every package is checked against the sha512 integrity the registry publishes for it.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cached, exec } from './debian';

/** The exact version of `spec` (a range or a tag) the registry resolves to. */
async function resolveVersion(spec: string): Promise<string> {
  const v = JSON.parse(await exec('npm', ['view', spec, 'version', '--json'])) as string | string[];
  if (!Array.isArray(v)) return v;
  // npm lists a range's versions in publication order: the highest is wanted
  const parts = (x: string) => x.split(/[.-]/).map(Number);
  return [...v].sort((a, b) => parts(a).reduce((d, n, i) => d || n - (parts(b)[i] ?? 0), 0)).at(-1)!;
}

/** A registry package's tarball, in the cache, verified against the registry's integrity. */
export async function registryPackage(name: string, range: string): Promise<string> {
  const version = await resolveVersion(`${name}@${range}`);
  const spec = `${name}@${version}`;
  return cached(`npm-${name.replace('/', '+')}-${version}.tgz`, async (tmp) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flapwatch-npm-'));
    try {
      const [packed] = JSON.parse(await exec('npm', ['pack', spec, '--json', '--pack-destination', dir])) as { filename: string }[];
      const file = path.join(dir, packed!.filename);
      const want = JSON.parse(await exec('npm', ['view', spec, 'dist.integrity', '--json'])) as string;
      const got = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
      if (got !== want) throw new Error(`${spec}: the tarball's ${got} is not the registry's ${want}`);
      renameSync(file, tmp);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** The npm that comes with Node 20's official builds. */
export const NPM_RANGE = '10';

/** Extracts a package tarball's contents (without its package/ prefix) into `dir`. */
export async function unpack(tgz: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await exec('tar', ['-xzf', tgz, '-C', dir, '--strip-components=1', '--no-same-owner']);
}

/**
 * `dir` laid out as Node's official tarball lays out /usr/local: bin/node, include/node, share/, and npm in
 * lib/node_modules with its bin/ links. The Node is this process's version, for this machine's architecture.
 */
export async function nodeTree(dir: string, version = process.versions.node): Promise<void> {
  const dist = await registryPackage(`node-linux-${process.arch}`, version);
  const npm = await registryPackage('npm', NPM_RANGE);
  await unpack(dist, dir);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']) rmSync(path.join(dir, f), { force: true });
  const out = await exec(path.join(dir, 'bin', 'node'), ['--version']);
  if (out.trim() !== `v${version}`) throw new Error(`node-linux-${process.arch}@${version} runs as ${out.trim()}`);
  await unpack(npm, path.join(dir, 'lib', 'node_modules', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(dir, 'bin', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(dir, 'bin', 'npx'));
}
