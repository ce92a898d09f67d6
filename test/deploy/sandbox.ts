// Runs a command as the DaemonSet's container runs it: uid 0 with exactly the manifest's capabilities (the
// rest dropped from the bounding set, so exec leaves no others), no_new_privs (allowPrivilegeEscalation:
// false) and a read-only root filesystem (readOnlyRootFilesystem: true) in a private mount namespace.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { rootSkip } from '../helpers/env';

/** Why the sandbox cannot be built here, or undefined. */
export function sandboxSkip(): string | undefined {
  if (rootSkip) return rootSkip;
  for (const [cmd, arg] of [['capsh', '--help'], ['unshare', '--version'], ['setpriv', '--version']] as const) {
    if (spawnSync(cmd, [arg]).error) return `needs ${cmd} (scripts/setup.sh installs libcap2-bin; unshare and setpriv are util-linux)`;
  }
  return undefined;
}

/** Every capability this kernel has, as capsh names them (cap_net_admin, …). */
export function allCapabilities(): string[] {
  const out = spawnSync('capsh', ['--print'], { encoding: 'utf8' }).stdout;
  const line = /^Bounding set =(.*)$/m.exec(out)?.[1];
  if (!line) throw new Error(`capsh --print shows no bounding set:\n${out}`);
  return line.split(',').map((c) => c.trim()).filter(Boolean);
}

/** Kubernetes' names (NET_ADMIN) → capsh's (cap_net_admin). */
export const capName = (k8s: string) => `cap_${k8s.toLowerCase()}`;

// Refuses to remount unless the mount namespace really is a new one: a read-only / here would be the machine's.
const REMOUNT = '[ "$(readlink /proc/self/ns/mnt)" != "$1" ] || exit 99; mount -o remount,bind,ro / || exit 98; shift; exec "$@"';

/** argv that runs `argv` in the sandbox with only `caps` (Kubernetes names). */
export function sandboxArgv(caps: readonly string[], argv: readonly string[]): string[] {
  const keep = new Set(caps.map(capName));
  const unknown = [...keep].filter((c) => !allCapabilities().includes(c));
  if (unknown.length) throw new Error(`this kernel has no ${unknown.join(', ')}`);
  const drop = allCapabilities().filter((c) => !keep.has(c));
  return [
    'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', REMOUNT, 'sh', readlinkSync('/proc/self/ns/mnt'),
    'capsh', `--drop=${drop.join(',')}`, '--', '-c', 'exec setpriv --no-new-privs "$0" "$@"', ...argv,
  ];
}

export interface Ran { code: number | null; stdout: string; stderr: string }

export function runSandboxed(caps: readonly string[], argv: readonly string[]): Ran {
  const [cmd, ...args] = sandboxArgv(caps, argv);
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status === 98 || r.status === 99) throw new Error(`the sandbox could not be built (exit ${r.status}): ${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnSandboxed(caps: readonly string[], argv: readonly string[]): ChildProcess {
  const [cmd, ...args] = sandboxArgv(caps, argv);
  return spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}
