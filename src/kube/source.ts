// KubeSource: the Kubernetes API as a source. Four list+watches (Services, EndpointSlices, this node's pods,
// Unhealthy Events) keep only what flapwatch needs; the Service ports go to subscribers, complete and at most
// every publishIntervalMs, as do probe failures and readiness flips. The API being away never fails the daemon:
// the source is down, says why, and comes up when the API does.
import type { Logger } from 'pino';
import { describe } from '../observe/errors';
import { Listeners } from '../observe/listeners';
import type { PodInfo, PodRef, ServicePort } from '../observe/objects';
import type { SourceStats } from '../observe/source';
import { accessFor, type ApiAccess, type InClusterOptions } from './access';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { UnhealthyEvents } from './events';
import { ApiClient } from './http';
import { PodStore } from './pod-store';
import { Reflector, type ReflectorState } from './reflector';
import { resources, type ResourceName } from './resources';
import { StringPool } from './string-pool';
import type { ReadinessFlip, UnhealthyEvent } from './types';
import { ServiceStore } from './views';

export interface KubeSourceOptions {
  /** a kubeconfig file; '' or absent = in-cluster (the pod's ServiceAccount) */
  kubeconfig?: string;
  /** overrides for in-cluster access (tests, benchmarks) */
  inCluster?: InClusterOptions;
  /** this node: pods are watched with spec.nodeName=<nodeName> */
  nodeName: string;
  logger: Logger;
  /** a full relist of every resource this often; 0 (the default) = only when the server says 410 Gone */
  resyncMs?: number;
  /** the least time between two publishes to the index (default 200) */
  publishIntervalMs?: number;
  /** items per list page (default 100: client-go's 500 raises the daemon's peak memory and event-loop stalls at scale; bench/RESULTS.md) */
  pageSize?: number;
  /** watches last a random time in [this, 2× this] (default 300 s, as client-go) */
  watchTimeoutSeconds?: number;
  /** a list page or a watch's headers that take longer fail (default 60 s) */
  requestTimeoutMs?: number;
  /** start() resolves by then even when the API neither answers nor fails (default 30 s) */
  startTimeoutMs?: number;
  backoff?: BackoffOptions;
}

const SOURCE = 'kubernetes';
const CORE: ResourceName[] = ['services', 'endpointslices'];
export const STATE_SETTLE_MS = 500;

export class KubeSource {
  private readonly log: Logger;
  private readonly client: ApiClient;
  private readonly intern = new StringPool();
  private readonly store = new ServiceStore();
  private readonly podStore = new PodStore();
  private events = new UnhealthyEvents(Date.now());
  private readonly reflectors = new Map<ResourceName, Reflector<unknown>>();
  private readonly states = new Map<ResourceName, ReflectorState>();
  private readonly unhealthy: Listeners<UnhealthyEvent>;
  private readonly readiness: Listeners<ReadinessFlip>;
  private readonly services: Listeners<ServicePort[]>;
  private readonly warned = new Set<string>();
  private pending = { unhealthy: [] as UnhealthyEvent[], flips: [] as ReadinessFlip[] };
  private access: ApiAccess | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private started: (() => void) | undefined;
  private shown: string | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private soonQueued = false;
  private lastFlush = 0;
  private published = false;
  private errors = 0;

  constructor(private readonly opts: KubeSourceOptions) {
    this.log = opts.logger.child({ source: SOURCE });
    const onError = (err: unknown) => this.log.error({ err }, 'a kubernetes subscriber failed');
    this.unhealthy = new Listeners(onError);
    this.readiness = new Listeners(onError);
    this.services = new Listeners(onError);
    this.client = new ApiClient(() => this.apiAccess(), opts.requestTimeoutMs ?? 60_000);
    const handlers = resources({
      nodeName: opts.nodeName,
      intern: this.intern,
      store: this.store,
      pods: this.podStore,
      events: () => this.events,
      changed: () => this.scheduleFlush(),
      unhealthy: (e) => this.soon(this.pending.unhealthy, [e]),
      flips: (f) => this.soon(this.pending.flips, f),
      warn: (subject, problems) => this.warnOnce(subject, problems),
      forget: (subject) => {
        for (const k of this.warned) if (k.startsWith(`${subject}: `)) this.warned.delete(k);
      },
      podsSynced: () => this.reflectors.get('events')!.start(),
    });
    for (const [name, r] of Object.entries(handlers) as [ResourceName, (typeof handlers)[ResourceName]][]) {
      this.reflectors.set(name, new Reflector<unknown>({
        name,
        path: r.path,
        ...(r.selectors && { selectors: r.selectors }),
        pageSize: opts.pageSize ?? 100,
        watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
        backoff: opts.backoff ?? DEFAULT_BACKOFF,
        resyncMs: opts.resyncMs ?? 0,
        client: this.client,
        handler: r.handler,
        onState: (s) => this.onState(name, s),
        onError: (err, what) => this.onError(err, what),
      }));
    }
  }

  /** Resolves once the Services are published and pods listed, or the API failed, or startTimeoutMs passed. Never rejects. */
  start(): Promise<void> {
    this.starting ??= new Promise<void>((resolve) => {
      this.events = new UnhealthyEvents(Date.now());
      this.started = resolve;
      setTimeout(() => this.startDone(), this.opts.startTimeoutMs ?? 30_000).unref();
      for (const name of ['services', 'endpointslices', 'pods'] as ResourceName[]) this.reflectors.get(name)!.start();
    });
    return this.starting;
  }

  /** Idempotent; ends every request. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.flushTimer);
      clearTimeout(this.settleTimer);
      const stops = [...this.reflectors.values()].map((r) => r.stop());
      this.client.close();
      await Promise.all(stops);
      this.startDone();
    })();
    return this.stopping;
  }

  stats(): SourceStats[] {
    return [{ source: SOURCE, ...this.status(), errors: this.errors, eventsLost: 0, rateLimited: 0 }];
  }

  /** Where each watch resumes from ('' while a list is due): for debugging, and for tests. */
  resourceVersions(): Record<string, string> {
    return Object.fromEntries([...this.reflectors].map(([name, r]) => [name, r.resourceVersion()]));
  }

  /** This node's pods that have not finished. */
  pods(): PodInfo[] {
    return this.podStore.list();
  }

  /** This node's pod of that name. */
  pod(ref: PodRef): PodInfo | undefined {
    return this.podStore.get(`${ref.namespace}/${ref.name}`);
  }

  /** The pod with its own network namespace at this address (hostNetwork pods share the node's). */
  podByIp(ip: string): PodInfo | undefined {
    return this.podStore.byIp(ip);
  }

  /** Every Service port, after each change (coalesced: at most every publishIntervalMs). */
  onServices(listener: (ports: ServicePort[]) => void): () => void {
    return this.services.add((lists: ServicePort[][]) => listener(lists[lists.length - 1]!));
  }

  onUnhealthy(listener: (events: UnhealthyEvent[]) => void): () => void {
    return this.unhealthy.add(listener);
  }

  onReadiness(listener: (flips: ReadinessFlip[]) => void): () => void {
    return this.readiness.add(listener);
  }

  private warnOnce(subject: string, problems: string[]): void {
    const key = `${subject}: ${problems.join('; ')}`;
    if (!problems.length || this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn({ subject, problems }, key);
  }

  private apiAccess(): ApiAccess {
    try {
      this.access ??= accessFor(this.opts.kubeconfig ?? '', this.opts.inCluster);
    } catch (err) {
      throw new Error(this.opts.kubeconfig ? `kubeconfig ${this.opts.kubeconfig}: ${describe(err)}` : describe(err));
    }
    return this.access;
  }

  private onError(err: unknown, what: string): void {
    this.errors++;
    if (what.endsWith('-object')) this.warnOnce(`unreadable ${what.slice(0, -'-object'.length)}`, [describe(err)]);
  }

  private status(): { up: boolean; reason: string } {
    if (this.stopping) return { up: false, reason: 'stopped' };
    const failing = [...this.states].filter(([, s]) => !s.healthy).map(([, s]) => s.reason);
    const up = CORE.every((n) => this.states.get(n)?.healthy) && this.published;
    if (!up && failing.length === 0) return { up, reason: 'starting: listing Services and EndpointSlices' };
    return { up, reason: failing.join('; ') };
  }

  private onState(name: ResourceName, state: ReflectorState): void {
    this.states.set(name, state);
    // the API answers again: the others need not wait out their backoff
    if (state.healthy) for (const [other, r] of this.reflectors) if (other !== name && this.states.get(other)?.healthy === false) r.retryNow();
    if (!state.healthy || this.ready()) this.startDone();
    this.stateChanged();
  }

  private shownState(): 'up' | 'partly' | 'down' | undefined {
    const s = this.status();
    return s.up ? (s.reason ? 'partly' : 'up') : s.reason.startsWith('starting') ? undefined : 'down';
  }

  // One line per change of state (down, up, up partly), never per retry; a state that lasts less than
  // STATE_SETTLE_MS (four reflectors recovering one after the other) is not one. The reason while down may
  // change from try to try: stats() has it. The state start() resolves with is the daemon's start-up line.
  private stateChanged(): void {
    if (this.settleTimer) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      const shown = this.shownState();
      if (this.started || this.stopping || shown === undefined || shown === this.shown) return;
      this.shown = shown;
      const s = this.status();
      const c = this.store.counts();
      const fields = { up: s.up, reason: s.reason, services: c.services, endpointSlices: c.slices, pods: this.podStore.size() };
      if (shown === 'up') this.log.info(fields, `kubernetes API up: ${c.services} Services, ${c.slices} EndpointSlices, ${this.podStore.size()} pods on ${this.opts.nodeName}`);
      else if (shown === 'partly') this.log.warn(fields, `kubernetes source up, partly: ${s.reason}`);
      else this.log.warn(fields, `kubernetes API down, retrying: ${s.reason}`);
    }, STATE_SETTLE_MS);
    this.settleTimer.unref();
  }

  private startDone(): void {
    const resolve = this.started;
    if (!resolve) return;
    this.started = undefined;
    this.shown = this.shownState();
    resolve();
  }

  private ready(): boolean {
    return this.published && this.states.get('pods')?.healthy === true && this.states.get('events')?.healthy === true;
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopping) return;
    const wait = Math.max(0, this.lastFlush + (this.opts.publishIntervalMs ?? 200) - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    this.lastFlush = Date.now();
    const core = CORE.map((n) => this.reflectors.get(n)!);
    // the first publish waits for both lists; a relist in progress is held back until its removals are known
    const complete = CORE.every((n) => this.states.has(n)) && core.every((r) => !r.listing && r.resourceVersion() !== '');
    // an empty cluster is a complete view too: the first publish happens whatever it holds
    if (complete && (this.store.changed() || !this.published)) {
      this.services.emit([this.store.views()]);
      if (!this.published) {
        this.published = true;
        this.stateChanged();
      }
    }
    if (this.ready()) this.startDone();
  }

  // Probe failures and flips go out at once (the correlator's clock is running), batched per I/O turn.
  private soon<T>(queue: T[], items: T[]): void {
    queue.push(...items);
    if (this.soonQueued) return;
    this.soonQueued = true;
    setImmediate(() => {
      this.soonQueued = false;
      const { unhealthy, flips } = this.pending;
      this.pending.unhealthy = [];
      this.pending.flips = [];
      this.unhealthy.emit(unhealthy);
      this.readiness.emit(flips);
    });
  }
}
