// A task run every interval, never two at once: the first run on start(), the next one an interval after the
// previous ended (a slow kubelet or /proc never makes runs overlap), and runs on demand queued behind: now, or
// at a time callers need evidence up to (one timer for all of them).
export class Periodic {
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** the latest time a run was asked to start by (by()), and the one timer for it */
  private due = 0;
  private dueTimer: NodeJS.Timeout | undefined;
  /** when the last run started */
  private ranAt = 0;
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
    this.running = this.running.then(() => {
      if (this.stopped) return undefined;
      this.ranAt = Date.now();
      return this.task();
    }).catch(this.onError);
    return this.running;
  }

  /**
   * A run that starts at or after `at` (ms since the epoch), so that its evidence covers `at`: one timer for every
   * caller, so that a round of asks for nearby times costs a run or two, not one each. Fires at the earliest time
   * asked and again for the latest, if that is later still; a time the last run already covers asks for nothing.
   */
  by(at: number): void {
    this.due = Math.max(this.due, at);
    if (this.dueTimer || this.stopped || this.due <= this.ranAt) return;
    this.armFor(this.due);
  }

  // A timer may fire a millisecond before the wall clock reaches its time: a run must not start before `at`.
  private armFor(at: number): void {
    this.dueTimer = setTimeout(() => {
      if (Date.now() < at) return this.armFor(at);
      void this.now().then(() => {
        this.dueTimer = undefined;
        this.by(this.due);
      });
    }, Math.max(0, at - Date.now()));
    this.dueTimer.unref();
  }

  /** No run after this; resolves when the one in flight is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.dueTimer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.now().then(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }
}
