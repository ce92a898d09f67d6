// Runs the tools that print kube-proxy's rules, streaming their output to a parser as it comes: a large
// cluster's dump never needs to exist as one string.
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export type Spawn = (file: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

export interface RunOptions {
  /** run inside this network namespace (`ip netns exec NAME`) */
  netns?: string;
  /** stdout as it arrives; without it stdout is collected and returned */
  onData?: (chunk: Buffer) => void;
  timeoutMs?: number;
  spawn?: Spawn;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(readonly argv: readonly string[], readonly code: number | null, readonly stderr: string) {
    super(`${argv.join(' ')}: ${stderr.trim().split('\n').pop() || `exit code ${code}`}`);
    this.name = 'CommandError';
  }
}

const STDERR_MAX = 16 << 10;

/** Resolves with the exit code whatever it is; rejects only when the command cannot run or times out. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = (opts.spawn ?? nodeSpawn)(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new CommandError(full, null, `timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', opts.onData ?? ((chunk: Buffer) => stdout.push(chunk)));
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_MAX) stderr += chunk.toString('utf8');
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(full, null, err.message));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr });
    });
  });
}

/** As run, but a non-zero exit rejects. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new CommandError(opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv, result.code, result.stderr);
  return result;
}
