// buildah and podman as this machine's kind runs them: runc (crun rejects the hybrid cgroup layout), ulimits
// given explicitly (the runtimes' defaults ask for more than the machine's hard limits let runc set), the
// host's network for build steps. And the stand-ins for deploy/Dockerfile's two base images, which come from
// Docker Hub, out of reach here: Debian from Debian's archive (mmdebstrap), Node and npm from npm's registry.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { debianTarball, exec } from './debian';
import { NPM_RANGE, nodeTree } from './node-dist';

export const ROOT = path.resolve(__dirname, '..', '..', '..');

// Only a machine where buildah cannot run at all skips; podman, runc or mmdebstrap missing after
// scripts/setup.sh is a failure to see, not a reason to pass.
function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (rootful buildah and podman, mmdebstrap)';
  const info = spawnSync('buildah', ['info'], { encoding: 'utf8' });
  if (info.error) return 'needs buildah (scripts/setup.sh installs it)';
  if (info.status !== 0) return `buildah cannot run here: ${info.stderr.trim()}`;
  return undefined;
}

/** undefined when images can be built and run here; otherwise the reason to skip. */
export const containerSkip: string | undefined = whyNot();

/** Flags buildah's RUN steps and podman's containers both take. */
export function runtimeFlags(): string[] {
  const hard = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '1024';
  // nproc: the daemon and the tools it runs need a few dozen; runc may not raise it to this machine's limit
  return ['--runtime', 'runc', '--ulimit', `nofile=${hard}:${hard}`, '--ulimit', 'nproc=4096:4096'];
}

const KEY_LABEL = 'flapwatch.test.key';

function imageKey(name: string): string | undefined {
  const r = spawnSync('podman', ['image', 'inspect', '--format', `{{index .Labels "${KEY_LABEL}"}}`, name], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** `name` as `from` plus `adds` (host path → image path; a tarball is unpacked), unless it is there already. */
export async function composeImage(name: string, key: string, from: string, adds: [string, string][]): Promise<string> {
  if (imageKey(name) === key) return name;
  const ctr = (await exec('buildah', ['from', '--pull=never', from])).trim();
  try {
    for (const [src, dest] of adds) await exec('buildah', ['add', ctr, src, dest]);
    await exec('buildah', ['config', '--label', `${KEY_LABEL}=${key}`, ctr]);
    await exec('buildah', ['commit', '--quiet', '--rm', ctr, name]);
  } catch (err) {
    await exec('buildah', ['rm', ctr]).catch(() => undefined);
    throw err;
  }
  return name;
}

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);

/** npm's registry and CA file as this machine's npm is configured (a TLS-inspecting proxy needs its CA). */
function npmConfig(): { registry: string; cafile: string | undefined } {
  const get = (key: string) => spawnSync('npm', ['config', 'get', key], { encoding: 'utf8' }).stdout.trim();
  const cafile = get('cafile');
  return { registry: get('registry'), cafile: cafile && cafile !== 'null' && cafile !== 'undefined' ? cafile : undefined };
}

/** Files that give npm in a root filesystem this machine's registry and CA file: [host path, path in the rootfs]. */
export function npmSettings(dir: string, npmrcPath: string): [string, string][] {
  const { registry, cafile } = npmConfig();
  const files: [string, string][] = [];
  const lines = [`registry=${registry}`];
  if (cafile) {
    files.push([cafile, cafile]);
    lines.push(`cafile=${cafile}`);
  }
  const npmrc = path.join(dir, 'npmrc');
  writeFileSync(npmrc, `${lines.join('\n')}\n`);
  files.push([npmrc, npmrcPath]);
  return files;
}

export interface BaseImages {
  /** stands in for debian:bookworm-slim */
  runtime: string;
  /** stands in for node:20-bookworm: Debian with the official Node build and npm under /usr/local */
  node: string;
}

/** The stand-ins, made (and cached in podman's storage, by what they are made of) when missing. */
export async function baseImages(): Promise<BaseImages> {
  const tar = await debianTarball();
  const debianKey = hash(tar, String(statSync(tar).mtimeMs));
  const runtime = await composeImage('localhost/flapwatch-test/debian:bookworm-slim', debianKey, 'scratch', [[tar, '/']]);
  const stage = mkdtempSync(path.join(tmpdir(), 'flapwatch-node-'));
  try {
    const local = path.join(stage, 'usr-local');
    await nodeTree(local);
    // the machine's npm settings, in npm's global config (/usr/local/etc/npmrc), as a company mirror of the
    // official image would carry them; the final image does not inherit from this stage
    const settings = npmSettings(stage, '/usr/local/etc/npmrc');
    const key = hash(debianKey, process.versions.node, NPM_RANGE, ...settings.map(([f]) => readFileSync(f, 'utf8')));
    const node = await composeImage('localhost/flapwatch-test/node:bookworm', key, runtime, [[local, '/usr/local'], ...settings]);
    return { runtime, node };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** `buildah build`'s flags on this machine: build steps on the host's network, layers cached, no registry asked, no container left by a failed build. */
export const buildFlags = () => [...runtimeFlags(), '--network', 'host', '--layers', '--pull=never', '--force-rm'];

/** Builds deploy/Dockerfile the way scripts/build-image.sh does, with buildah and the stand-ins; its output. */
export function buildImage(tag: string, bases: BaseImages): Promise<string> {
  return exec('bash', [path.join(ROOT, 'scripts', 'build-image.sh'), tag, ...buildFlags(),
    '--build-arg', `NODE_IMAGE=${bases.node}`, '--build-arg', `RUNTIME_IMAGE=${bases.runtime}`],
  { env: { ...process.env, BUILDER: 'buildah' } });
}

export interface ImageInfo { id: string; size: number; labels: Record<string, string> }

export async function inspectImage(name: string): Promise<ImageInfo> {
  const [i] = JSON.parse(await exec('podman', ['image', 'inspect', name])) as { Id: string; Size: number; Labels: Record<string, string> | null }[];
  return { id: i!.Id, size: i!.Size, labels: i!.Labels ?? {} };
}
