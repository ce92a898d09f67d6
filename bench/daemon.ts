// The daemon as a benchmark runs it: `flapwatch run` with the node flags and environment the image gives it, in a
// lab's node netns when asked, ready once its /metrics says so; stopped as the DaemonSet stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from './proc';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');

export async function waitFor(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** SIGINT (the daemon detaches and exits), SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
}

export interface DaemonRun {
  /** host:port to serve on, reachable from the benchmark's process */
  listen: string;
  args?: string[];
  /** a netns name (/run/netns) to run in; absent: this one */
  netns?: string;
  /** /metrics matches this once every source has started: the one that must be up */
  ready: RegExp;
}

/** The daemon's process (its own pid: `ip netns exec` execs into it). */
export async function startFlapwatch(o: DaemonRun): Promise<ChildProcess> {
  const cmd = [process.execPath, ...DAEMON_NODE_FLAGS, CLI, 'run', '--listen', o.listen, '--log-level', 'warn', ...(o.args ?? [])];
  // nsenter rather than `ip netns exec`, which mounts the netns's sysfs over /sys and so hides the host's cgroups,
  // which a DaemonSet sees (its hostPath) and the DNS programs attach under
  const [file, ...args] = o.netns ? ['nsenter', `--net=/run/netns/${o.netns}`, ...cmd] : cmd;
  const child = spawn(file!, args, { env: { ...process.env, ...DAEMON_ENV }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`flapwatch exited ${child.exitCode}: ${out}`);
      // every source has started (up or down) once /readyz says so; then /metrics says which are up
      if ((await fetch(`http://${o.listen}/readyz`).catch(() => null))?.status !== 200) return false;
      const res = await fetch(`http://${o.listen}/metrics`).catch(() => null);
      return !!res && o.ready.test(await res.text());
    }, 'flapwatch to attach');
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return child;
}
