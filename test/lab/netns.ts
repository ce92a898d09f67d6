// Small wrappers around ip(8) and sysctl for the test lab; every failure names the command and its stderr.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';

export interface RunResult { stdout: string; stderr: string }

export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(`${[cmd, ...args].join(' ')}: ${stderr.trim() || err.message}`);
        (e as NodeJS.ErrnoException).code = typeof err.code === 'string' ? err.code : String(err.code ?? '');
        reject(e);
      } else {
        resolve({ stdout, stderr });
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function nsRun(ns: string, cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** The inode of /run/netns/NAME: the kernel's ns.inum, which BPF reads from skb->dev->nd_net. */
export function netnsInode(name: string): number {
  return fs.statSync(`/run/netns/${name}`).ino;
}

export async function sysctlSet(ns: string, key: string, value: string | number): Promise<void> {
  await nsRun(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
}

export async function sysctlGet(ns: string, key: string): Promise<string> {
  return (await nsRun(ns, 'sysctl', ['-n', key])).stdout.trim();
}
