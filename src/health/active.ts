// ActiveProber: HTTP health probes of opted-in Services, both through the ClusterIP and straight to each ready
// pod, and of --probe URLs. Each target runs on its own jittered schedule; a global cap bounds probes in flight,
// and a target whose previous probe is still queued or running skips its turn (counted) instead of piling up.
// A failed probe is retried once at once: whether the retry succeeds tells if "just add retries" would hide it.
import type { Logger } from 'pino';
import { Listeners } from '../observe/listeners';
import type { HealthObservation } from '../observe/health';
import type { SourceStats } from '../observe/source';
import type { ServicePort, ServiceRef } from '../observe/objects';
import { serviceTargets, urlTarget, type ProbeTarget, type UrlProbe } from './active-targets';
import { ActiveTotals, type ProbeTotals } from './active-totals';
import { httpProbe, type HttpProbeResult } from './http-probe';
import { readHealthPayload } from './payload';

export interface ActiveProberOptions {
  /** the ServiceIndex's ports (those with `activeProbe` are probed), re-read every refreshMs */
  targets?: () => readonly ServicePort[];
  /** standalone --probe URLs */
  urls?: readonly UrlProbe[];
  /** the Service whose ClusterIP (or external IP) a --probe URL's address is: the URL is reported under its name */
  serviceAt?: (ip: string, port: number) => ServiceRef | undefined;
  /** probes in flight at most, over all targets (default 16) */
  concurrency?: number;
  /** how often targets() is re-read (default 5 s) */
  refreshMs?: number;
  /** hide credential-looking values of payloads (default true) */
  redact?: boolean;
  /** body bytes read per probe (default 64 KiB) */
  maxBodyBytes?: number;
  logger: Logger;
  /** [0, 1) for the jitter; Math.random by default */
  random?: () => number;
}

interface Slot {
  target: ProbeTarget;
  timer: NodeJS.Timeout | undefined;
  /** queued or in flight */
  busy: boolean;
  removed: boolean;
}

export class ActiveProber {
  private readonly log: Logger;
  private readonly listeners: Listeners<HealthObservation>;
  private readonly urlTargets: ProbeTarget[];
  private readonly slots = new Map<string, Slot>();
  private readonly queue: Slot[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counts = new ActiveTotals();
  private readonly concurrency: number;
  private readonly random: () => number;
  private refreshTimer: NodeJS.Timeout | undefined;
  private running = 0;
  private started = false;
  private stopped = false;
  private errors = 0;
  private targetsError: string | undefined;

  constructor(private readonly opts: ActiveProberOptions) {
    this.concurrency = opts.concurrency ?? 16;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new Error(`active probes: concurrency must be a whole number ≥ 1, got ${opts.concurrency}`);
    this.urlTargets = (opts.urls ?? []).map(urlTarget); // a bad --probe URL throws here, at start
    this.random = opts.random ?? Math.random;
    this.log = opts.logger.child({ source: 'active_probes' });
    this.listeners = new Listeners((err) => this.log.error({ err }, 'an active probe subscriber failed'));
  }

  onObservations(listener: (items: HealthObservation[]) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Schedules the targets; resolves at once (probes run on their own schedule). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.refresh();
    const every = this.opts.refreshMs ?? 5000;
    const tick = () => {
      this.refreshTimer = setTimeout(() => {
        this.refresh();
        tick();
      }, every);
      this.refreshTimer.unref();
    };
    if (this.opts.targets) tick();
  }

  /** Re-reads the targets now: new ones start at a random phase of their interval, gone ones stop. */
  refresh(): void {
    if (this.stopped) return;
    let wanted: ProbeTarget[];
    try {
      const urls = this.urlTargets.map((t) => {
        const service = this.opts.serviceAt?.(t.host, t.port);
        return service ? { ...t, service } : t;
      });
      wanted = [...urls, ...serviceTargets(this.opts.targets?.() ?? [])];
      if (this.targetsError !== undefined) this.log.info('active probe targets readable again');
      this.targetsError = undefined;
    } catch (err) {
      this.errors++;
      if (this.targetsError === undefined) this.log.warn({ err }, 'cannot read active probe targets; keeping the previous ones');
      this.targetsError = (err as Error).message;
      return;
    }
    const keys = new Set(wanted.map((t) => t.key));
    for (const [key, slot] of this.slots) {
      if (keys.has(key)) continue;
      clearTimeout(slot.timer);
      slot.removed = true;
      this.slots.delete(key);
    }
    for (const target of wanted) {
      const slot = this.slots.get(target.key);
      if (slot) {
        slot.target = target; // a new interval takes effect at the next turn
        continue;
      }
      const fresh: Slot = { target, timer: undefined, busy: false, removed: false };
      this.slots.set(target.key, fresh);
      this.schedule(fresh, this.random() * target.intervalMs);
    }
  }

  /** Stops scheduling and waits for the probes in flight; their results are still emitted. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
    this.queue.length = 0;
    await Promise.all([...this.inFlight]);
  }

  stats(): SourceStats[] {
    const up = this.started && !this.stopped;
    let reason = this.stopped ? 'stopped' : this.started ? '' : 'not started';
    if (up && this.targetsError) reason = `cannot read targets: ${this.targetsError}`;
    else if (up && this.slots.size === 0) reason = 'nothing to probe: no Service opts in (flapwatch.io/health) and no --probe URL';
    return [{ source: 'active_probes', up, reason, errors: this.errors, eventsLost: 0, rateLimited: this.counts.skipped }];
  }

  /** Monotonic counts for metrics: probes by result, retries by outcome, skipped turns. */
  totals(): ProbeTotals {
    return this.counts.rowsNow();
  }

  /** Targets currently scheduled. */
  targetCount(): number {
    return this.slots.size;
  }

  private schedule(slot: Slot, delayMs: number): void {
    slot.timer = setTimeout(() => this.due(slot), delayMs);
    slot.timer.unref();
  }

  private due(slot: Slot): void {
    if (this.stopped || slot.removed) return;
    // The next turn is set now, so the cadence does not stretch with slow probes; ±10% keeps targets apart.
    this.schedule(slot, slot.target.intervalMs * (0.9 + 0.2 * this.random()));
    if (slot.busy) {
      this.counts.skip(slot.target);
      return;
    }
    slot.busy = true;
    this.queue.push(slot);
    this.drainQueue();
  }

  private drainQueue(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const slot = this.queue.shift() as Slot;
      this.running++;
      const p = this.probe(slot.target).catch((err) => {
        this.errors++;
        this.log.error({ err }, 'an active probe failed unexpectedly');
      }).finally(() => {
        this.running--;
        slot.busy = false;
        this.inFlight.delete(p);
        if (!this.stopped) this.drainQueue();
      });
      this.inFlight.add(p);
    }
  }

  private send(t: ProbeTarget): Promise<HttpProbeResult> {
    return httpProbe({ scheme: t.scheme, host: t.host, port: t.port, path: t.urlPath, timeoutMs: t.timeoutMs, maxBodyBytes: this.opts.maxBodyBytes ?? 65536 });
  }

  private async probe(t: ProbeTarget): Promise<void> {
    const first = await this.send(t);
    const at = Date.now();
    const obs: HealthObservation = {
      at,
      source: 'active',
      ok: first.ok,
      service: t.service,
      ...(t.pod ? { pod: t.pod } : {}),
      probe: `GET ${t.urlPath}`,
      path: t.path,
      target: { ip: t.host, port: t.port },
      kind: first.kind,
      ...(first.status !== undefined ? { status: first.status } : {}),
      detail: first.detail,
      lookbackMs: t.timeoutMs + t.intervalMs,
      timeoutMs: t.timeoutMs,
    };
    if (first.ok) {
      this.counts.result(t, true, undefined);
      this.listeners.emit([obs]);
      return;
    }
    // Payloads are kept for failures only: that is where they explain something.
    Object.assign(obs, first.body ? readHealthPayload(first.body, { redact: this.opts.redact ?? true }) : {});
    if (this.log.isLevelEnabled('debug')) this.log.debug({ probe: obs }, `${t.path} probe of ${t.service.namespace}/${t.service.name} at ${t.host}:${t.port} failed: ${first.detail}`);
    // The failure goes out now, not after its retry (which may wait a whole timeout): the judge must not wait for
    // it. The retry's outcome is filled in on the same observation when it ends; a judgement made before has none.
    this.listeners.emit([obs]);
    // Retried at once, on the same slot: a new connection, as a client library's retry would make.
    const retry = await this.send(t);
    this.counts.result(t, false, retry.ok);
    obs.retry = { ok: retry.ok, detail: retry.detail };
  }
}
