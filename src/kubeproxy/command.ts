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
    super(`${argv.join(' ')}: ${causeOf(stderr) || `exit code ${code}`}`);
    this.name = 'CommandError';
  }
}

// nft and iptables put the cause on one line and, under the offending text, a line of carets; iptables-restore
// follows its cause with "Error occurred at line: N" and a "Try `…' for more information." line.
const CARETS = /^\s*[~^]*\^[~^]*$/;
const NOISE = /^Try `.*for more information\.$|^Error occurred at line: \d+$/;

/** The line of a tool's stderr that names the cause, with the text its carets point at; '' if none. */
function causeOf(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const meaningful = lines.filter((l) => !CARETS.test(l) && !NOISE.test(l));
  const cause = meaningful.find((l) => /\bError: /.test(l)) ?? meaningful[0];
  if (cause === undefined) return '';
  const i = lines.indexOf(cause);
  const [text, carets] = [lines[i + 1], lines[i + 2]];
  let out = cause;
  if (text !== undefined && carets !== undefined && CARETS.test(carets) && !CARETS.test(text)) {
    const at = carets.indexOf('^');
    const pointed = text.slice(at, carets.lastIndexOf('^') + 1);
    out += `: ${text.trim()}${pointed && pointed !== text.trim() ? ` (at "${pointed}")` : ''}`;
  }
  const line = lines.find((l) => l.startsWith('Error occurred at line: '));
  return line ? `${out} (${line.slice('Error occurred at '.length)})` : out;
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
