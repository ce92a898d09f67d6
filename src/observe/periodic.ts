// A task run every interval, never two at once: the first run on start(), the next one an interval after the
// previous ended (a slow kubelet or /proc never makes runs overlap), and runs on demand queued behind.
export class Periodic {
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  /** Sources turn their failures into status; `onError` hears of a task that threw all the same (a bug). */
  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    what: string,
    private readonly onError: (err: unknown) => void,
  ) {
    if (!(intervalMs > 0)) throw new Error(`${what}: interval must be > 0 ms, got ${intervalMs}`);
  }

  get isStarted(): boolean {
    return this.started;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Resolves after the first run. */
  start(): Promise<void> {
    if (this.started) return this.running;
    this.started = true;
    const first = this.now();
    void first.then(() => this.schedule());
    return first;
  }

  /** Runs now, after any run in flight. */
  now(): Promise<void> {
    this.running = this.running.then(() => (this.stopped ? undefined : this.task())).catch(this.onError);
    return this.running;
  }

  /** No run after this; resolves when the one in flight is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.now().then(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }
}
