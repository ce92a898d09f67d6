// Debian root filesystems made with mmdebstrap from Debian's archive, kept as tarballs in a cache (they take half
// a minute to a minute to make; a cached one is at most a week old, so security updates come in). Shaped like
// Docker Hub's debian:bookworm-slim: minbase, merged /usr, no documentation, manual pages or translations, and
// apt that keeps neither downloaded packages nor its binary caches.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

export const SUITE = 'bookworm';
const SOURCES = [
  `deb http://deb.debian.org/debian ${SUITE} main`,
  `deb http://deb.debian.org/debian ${SUITE}-updates main`,
  `deb http://deb.debian.org/debian-security ${SUITE}-security main`,
];
const SLIM = [
  '--variant=minbase',
  '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
  ...['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/locale/*', '/usr/share/info/*', '/usr/share/groff/*', '/usr/share/lintian/*']
    .map((p) => `--dpkgopt=path-exclude=${p}`),
  '--dpkgopt=path-include=/usr/share/doc/*/copyright',
  // set once the root filesystem is made (mmdebstrap itself needs the downloaded packages and caches, and its
  // own clean-up no longer finds the caches once apt is told it keeps none)
  `--customize-hook=printf '%s\\n' 'APT::Keep-Downloaded-Packages "false";' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";'`
    + ` > "$1/etc/apt/apt.conf.d/90slim" && rm -f "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb`,
];
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** Where the tests keep what is slow to make: root filesystems, Node's packages. */
export const CACHE_DIR = process.env.FLAPWATCH_TEST_CACHE || '/var/cache/flapwatch-test';

/** Runs a command to completion; rejects with its output's tail when it fails. */
export function exec(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${[cmd, ...args].join(' ')} exited ${code}:\n${(err || out).slice(-4000)}`));
    });
  });
}

/** A file in the cache, made by `make(tmpPath)` when missing or older than a week; concurrent makers do not clash. */
export async function cached(name: string, make: (tmp: string) => Promise<void>): Promise<string> {
  const file = path.join(CACHE_DIR, name);
  if (existsSync(file) && Date.now() - statSync(file).mtimeMs < MAX_AGE_MS) return file;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await make(tmp);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return file;
}

/** A tarball of a slim Debian root filesystem with `packages` installed (and what they depend on). */
export function debianTarball(packages: readonly string[] = []): Promise<string> {
  const args = [...SLIM, ...(packages.length ? [`--include=${[...packages].sort().join(',')}`] : [])];
  const key = createHash('sha256').update(JSON.stringify([SUITE, SOURCES, args])).digest('hex').slice(0, 16);
  return cached(`debian-${SUITE}-${key}.tar`, (tmp) => exec('mmdebstrap', ['--quiet', ...args, '--format=tar', SUITE, tmp, ...SOURCES]).then(() => undefined));
}
