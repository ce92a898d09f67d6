// A node's own PID namespace and /proc, as hostPID gives a DaemonSet on a real node: a long-lived init made with
// `unshare --pid --fork --mount-proc` inside the node's network namespace. What is started through enter() (pod
// servers, the node's daemon) lists only the node's processes in /proc. Killing the init kills every process of
// the namespace (the kernel's rule for a PID namespace's init), so removing the node's netns (whose processes
// include the init) takes them all.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { killQuietly } from './registry';

// The init reaps what is orphaned inside (dash's wait collects any child, not only its own jobs). The slave
// propagation lets network namespaces added later under /run/netns show inside; the new /proc stays inside.
const INIT = 'trap "exit 0" TERM; while :; do sleep 1000000 & wait $!; done';

export class PidNamespace {
  private constructor(
    private readonly unshare: ChildProcess,
    /** the init's PID as the machine's /proc numbers it (1 inside) */
    readonly initPid: number,
    private readonly exited: Promise<void>,
  ) {}

  static async start(netns: string): Promise<PidNamespace> {
    const unshare = spawn('ip', ['netns', 'exec', netns, 'unshare', '--pid', '--fork', '--kill-child', '--mount',
      '--propagation', 'slave', '--mount-proc', 'sh', '-c', INIT], { detached: true, stdio: 'ignore' });
    unshare.unref();
    const exited = new Promise<void>((resolve) => unshare.once('exit', () => resolve()));
    const pid = unshare.pid;
    if (pid === undefined) throw new Error(`PidNamespace: could not start unshare in ${netns}`);
    // `ip netns exec` became unshare (same PID), whose one child is the new namespace's init; once that child
    // runs sh, its /proc is mounted (unshare mounts it before the exec).
    for (let attempt = 0; attempt < 200; attempt++) {
      const init = childrenOf(pid)[0];
      if (init !== undefined && commOf(init) === 'sh') return new PidNamespace(unshare, init, exited);
      if (unshare.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    killQuietly(-pid, 'SIGKILL');
    throw new Error(`PidNamespace: no init appeared in ${netns}`);
  }

  /** argv that runs `argv` in this PID namespace and its /proc, in the network namespace of the init or `netns`. */
  enter(argv: readonly string[], netns?: string): string[] {
    const inNet = netns ? ['ip', 'netns', 'exec', netns] : [];
    return ['nsenter', '--target', String(this.initPid), '--pid', '--mount', ...(netns ? [] : ['--net']), '--', ...inNet, ...argv];
  }

  /**
   * SIGKILL to the init: the kernel kills every process of the namespace, and the init stays until they are all
   * reaped (zap_pid_ns_processes); resolves when it has exited. It is a zombie then, until the machine's PID 1
   * (its parent once unshare is gone) gets round to reaping it.
   */
  async stop(): Promise<void> {
    this.unshare.ref(); // wait for its exit even if nothing else keeps the process alive
    killQuietly(this.initPid, 'SIGKILL');
    killQuietly(-(this.unshare.pid as number), 'SIGKILL');
    await this.exited;
    for (let waited = 0; running(this.initPid); waited += 10) {
      if (waited > 10_000) throw new Error(`PidNamespace: its init ${this.initPid} outlived its SIGKILL by 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  stopSync(): void {
    killQuietly(this.initPid, 'SIGKILL');
    killQuietly(-(this.unshare.pid as number), 'SIGKILL');
  }
}

/** The process exists and is not a zombie. */
export function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The PIDs of `pid`'s children (a launcher's: nsenter's, unshare's). */
export function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
