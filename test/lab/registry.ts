// What the labs leave on the machine, and how it goes away: every lab claims a prefix (its network namespaces are
// PREFIX-*, its files STATE_DIR/PREFIX.*) and records its creator's PID in STATE_DIR/PREFIX.pid before it creates
// anything (create()). destroySync() runs at process exit and on SIGINT/SIGTERM for labs still alive; after a SIGKILL, the
// next create() sweeps the prefixes whose creator is dead. Killing a namespace's processes first matters: a
// process inside keeps the namespace alive after its name is gone.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from './netns';

export const STATE_DIR = '/run/flapwatch-lab';

/** A lab as the registry knows it. */
export interface Owned {
  readonly prefix: string;
  /** removes everything without awaiting (the exit handler cannot wait) */
  destroySync(): void;
  destroy(): Promise<void>;
}

export type Undo = () => Promise<void>;

const live = new Set<Owned>();
/** What a swept prefix needs undone besides its namespaces and files (e.g. a global sysctl put back). */
const sweepers: ((prefix: string) => void)[] = [];

export function once(fn: () => Promise<void>): Undo {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function removeNetns(ns: string): Promise<void> {
  if (!fs.existsSync(`/run/netns/${ns}`)) return;
  const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
  for (const pid of pids) killQuietly(Number(pid), 'SIGKILL');
  await run('ip', ['netns', 'del', ns]);
}

export function removeNetnsSync(ns: string): void {
  if (!fs.existsSync(`/run/netns/${ns}`)) return;
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids) killQuietly(Number(pid), 'SIGKILL');
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // best effort while the process exits; the next create() sweeps what is left
  }
}

// A namespace's veth ends in the machine's namespace go when the kernel dismantles the namespace, which it does
// in the background after `ip netns del`: they are deleted at once instead, so that nothing outlives destroy().
export async function removeHostLinks(prefix: string): Promise<void> {
  for (const dev of hostLinks(prefix)) await run('ip', ['link', 'del', dev]).catch(() => undefined); // gone with its peer meanwhile
}

export function removeHostLinksSync(prefix: string): void {
  for (const dev of hostLinks(prefix)) {
    try {
      execFileSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
    } catch {
      // gone with its peer meanwhile
    }
  }
}

function hostLinks(prefix: string): string[] {
  return fs.readdirSync('/sys/class/net').filter((dev) => dev.startsWith(prefix));
}

/** STATE_DIR/PREFIX.files: a lab's own files (configs, a database), removed with it or by the sweep. */
export function filesDir(prefix: string): string {
  const dir = path.join(STATE_DIR, `${prefix}.files`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function removeState(prefix: string): void {
  if (!fs.existsSync(STATE_DIR)) return;
  for (const f of fs.readdirSync(STATE_DIR)) {
    if (f.startsWith(`${prefix}.`)) fs.rmSync(path.join(STATE_DIR, f), { recursive: true, force: true });
  }
}

/** Deletes the namespaces and files of labs whose creating process is dead. */
async function sweepStale(): Promise<void> {
  if (!fs.existsSync(STATE_DIR)) return;
  const dead = fs.readdirSync(STATE_DIR)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -'.pid'.length))
    .filter((prefix) => !isAlive(Number(fs.readFileSync(path.join(STATE_DIR, `${prefix}.pid`), 'utf8'))));
  if (dead.length === 0) return;
  const names = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const prefix of dead) {
    await removeHostLinks(prefix);
    for (const ns of names.filter((n) => n.startsWith(`${prefix}-`))) await removeNetns(ns);
    for (const sweep of sweepers) sweep(prefix);
    removeState(prefix);
  }
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanupAllSync = (): void => {
    for (const owned of [...live]) owned.destroySync();
  };
  process.on('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = (): void => {
      cleanupAllSync();
      // Let the default action (or another handler) end the process as if we had not been here.
      process.off(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

/** Registers what a stale prefix needs undone besides its namespaces and files; runs before its files go. */
export function onSweep(sweep: (prefix: string) => void): void {
  sweepers.push(sweep);
}

/**
 * Sweeps the dead, records this process as the prefix's owner before anything exists, then builds; a build that
 * fails removes what it made before the error goes on.
 */
export async function create<T extends Owned>(owned: T, build: () => Promise<void>): Promise<T> {
  installHandlers();
  await sweepStale();
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(path.join(STATE_DIR, `${owned.prefix}.pid`), String(process.pid));
  live.add(owned);
  try {
    await build();
  } catch (err) {
    await owned.destroy().catch(() => undefined);
    throw err;
  }
  return owned;
}

/** After a lab removed everything: its files and its record go. */
export function release(owned: Owned): void {
  removeState(owned.prefix);
  live.delete(owned);
}
