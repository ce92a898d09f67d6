// A lab's helper process (a pod server, a node's prober) steered over its IPC channel: requests carry an id, the
// child answers {id, error?, …}. Detached, so that kill() takes `nsenter`/`ip netns exec` and what it became at
// once; the channel holds the event loop open only while an answer is awaited.
import { spawn, type ChildProcess } from 'node:child_process';
import { killQuietly } from './registry';

interface Pending { resolve: (m: Record<string, unknown>) => void; reject: (err: Error) => void }

export class IpcChild {
  readonly exited: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  private constructor(readonly child: ChildProcess, private readonly what: string) {
    this.exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      for (const p of [...this.pending.values()]) p.reject(new Error(`${what} exited (${signal ?? code})`));
      resolve();
    }));
    child.on('message', (message) => {
      const m = message as { id: number; error?: string };
      const p = this.pending.get(m.id);
      if (m.error !== undefined) p?.reject(new Error(`${what}: ${m.error}`));
      else p?.resolve(m);
    });
  }

  /** `env`: added to this process's environment */
  static spawn(argv: readonly string[], what: string, env: Record<string, string> = {}): IpcChild {
    const [cmd, ...args] = argv;
    const child = spawn(cmd as string, args, { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, ...env } });
    child.unref();
    child.channel?.unref();
    return new IpcChild(child, what);
  }

  /** Sends `message` with a fresh id and resolves with the child's answer. */
  request(message: object, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const answered = this.reply(id, timeoutMs);
    this.child.send({ ...message, id });
    return answered;
  }

  /** The answer with `id`, which the child may send unasked (id 0: "I am up"). */
  reply(id: number, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const settle = (err: Error | undefined, m?: Record<string, unknown>): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (this.pending.size === 0) this.child.channel?.unref();
        if (err) reject(err);
        else resolve(m as Record<string, unknown>);
      };
      const timer = setTimeout(() => settle(new Error(`${this.what}: no answer to request ${id} in ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { resolve: (m) => settle(undefined, m), reject: settle });
      this.child.channel?.ref();
    });
  }

  /** SIGKILL to the whole process group; ref() first so that awaiting `exited` keeps the process alive. */
  kill(): void {
    this.child.ref();
    if (this.child.pid) killQuietly(-this.child.pid, 'SIGKILL');
  }

  killSync(): void {
    if (this.child.pid) killQuietly(-this.child.pid, 'SIGKILL');
  }
}
