// NetnsScope: which network namespaces are this node's, for a daemon that shares its kernel with other "nodes"
// (a lab of several on one machine; a real node's kernel holds only that node). BPF programs see every
// namespace, so the node's are the daemon's own and those of every task in its PID namespace (hostPID on a
// real node, the node's own PID namespace in a lab), listed by a BPF task iterator: it walks the tasks of the
// caller's PID namespace and needs no ptrace access to them, where readlink of /proc/PID/ns/net does. The kernel
// sources keep the records of these namespaces and drop the others at drain (kernel/drops.ts,
// kernel/connections.ts). When the iterator cannot load, everything counts, and the log says so.
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { addon, type Addon, type NativeNetnsIterator } from '../native';
import { describeSystemError } from '../observe/errors';
import type { SourceStats } from '../observe/source';
import { startNative } from './bpf-object';

/** What a kernel source asks of a scope: whether a record's netns is this node's. */
export interface NetnsFilter {
  /** the items whose netns is this node's; may read the node's namespaces again first (see NetnsScope) */
  keep<T extends { netns: number }>(items: T[]): Promise<T[]>;
  /** the same question for one netns, on what the last read found */
  has(netns: number): boolean;
}

export interface NetnsScopeOptions {
  btfPath: string;
  /**
   * A netns the last read did not list is read for again, at most this often: a new pod's netns is this node's
   * from its first drain on
   */
  refreshMs: number;
  /** read again at least this often, so that a gone netns (whose inode the kernel may reuse) is forgotten */
  maxAgeMs: number;
  logger: Logger;
  /** the addon, loaded only in start() */
  native?: () => Pick<Addon, 'NetnsIterator'>;
  now?: () => number;
}

export class NetnsScope implements NetnsFilter {
  private readonly log: Logger;
  private iterator: NativeNetnsIterator | undefined;
  private namespaces = new Set<number>();
  private readonly own = statSync('/proc/self/ns/net').ino;
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;
  private status: { up: boolean; reason: string } = { up: false, reason: 'starting' };
  private errors = 0;
  private dropped = 0;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: NetnsScopeOptions) {
    this.log = opts.logger.child({ source: 'netns_scope' });
  }

  /** Loads the iterator and reads once; never rejects: without it, every netns counts. */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    await this.reading;
    this.iterator?.stop();
    this.iterator = undefined;
    this.status = { up: false, reason: 'stopped' };
  }

  has(netns: number): boolean {
    return !this.iterator || netns === this.own || this.namespaces.has(netns);
  }

  async keep<T extends { netns: number }>(items: T[]): Promise<T[]> {
    if (!this.iterator) return items;
    const age = this.now() - this.readAt;
    if (age >= this.opts.maxAgeMs || (age >= this.opts.refreshMs && items.some((i) => !this.has(i.netns)))) await this.read();
    const kept = items.filter((i) => this.has(i.netns));
    this.dropped += items.length - kept.length;
    return kept;
  }

  /** The namespaces that count, as last read (the daemon's own included); every one while the scope is down. */
  current(): { all: boolean; namespaces: number[] } {
    return { all: !this.iterator, namespaces: [...new Set([this.own, ...this.namespaces])].sort((a, b) => a - b) };
  }

  /** Records of other namespaces left out so far. */
  leftOut(): number {
    return this.dropped;
  }

  stats(): SourceStats[] {
    return [{ source: 'netns_scope', ...this.status, errors: this.errors, eventsLost: 0, rateLimited: 0 }];
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async startOnce(): Promise<void> {
    try {
      const { btfPath } = this.opts;
      const started = await startNative({
        btfPath,
        log: this.log,
        make: () => new ((this.opts.native ?? addon)().NetnsIterator)(),
        start: (iterator) => iterator.start({ btfPath }),
        stopped: () => this.stopped,
      });
      if (!started) return;
      this.iterator = started.native;
      await this.read();
      this.status = { up: true, reason: '' };
      this.log.info({ namespaces: this.current().namespaces }, `counting only this PID namespace's ${this.current().namespaces.length} network namespaces`);
    } catch (err) {
      this.errors++;
      const reason = `cannot list this PID namespace's network namespaces: ${describeSystemError(err, 'loading the task iterator')}`;
      this.status = { up: false, reason };
      this.log.warn({ err }, `${reason}; counting every network namespace of the kernel, other nodes' too`);
    }
  }

  // One read at a time; a failed one keeps the last set (a netns rarely goes), is counted, and waits its turn.
  private read(): Promise<void> {
    this.reading ??= (async () => {
      try {
        this.namespaces = new Set(await this.iterator!.read());
      } catch (err) {
        this.errors++;
        this.log.warn({ err }, `reading this PID namespace's network namespaces failed: ${describeSystemError(err, 'walking the tasks')}`);
      } finally {
        this.readAt = this.now();
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}
