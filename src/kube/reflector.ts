// One resource's list+watch, as client-go's reflector does it: a consistent list in pages of `limit` gives a
// resourceVersion, a watch from it (with bookmarks) carries every change after it, a dropped stream resumes
// from the last version seen, `410 Gone` relists, other errors back off with jitter. The handler sees each
// change once: the reflector keeps every key's resourceVersion, so an object a relist returns unchanged is
// not handed over again, and one missing from a relist is removed.
import { Backoff, type BackoffOptions } from './backoff';
import { describe } from '../observe/errors';
import { ApiError, isGone, type ApiClient, type WatchEvent } from './http';

/** 'initial': the first list; 'relist': a later list (after 410 or a resync); 'watch': a watch event. */
export type Phase = 'initial' | 'relist' | 'watch';

export interface ReflectorHandler<T> {
  /** keeps what is needed of a wire object; undefined = not ours (removed if it was) */
  convert(obj: Record<string, unknown>): T | undefined;
  upsert(key: string, item: T, phase: Phase): void;
  remove(key: string, phase: Phase): void;
  /** a list completed, every key it did not return removed */
  synced(phase: Phase): void;
}

export interface ReflectorState {
  healthy: boolean;
  /** '' when healthy */
  reason: string;
}

export interface ReflectorOptions<T> {
  /** for messages: 'services' */
  name: string;
  path: string;
  selectors?: { fieldSelector?: string; labelSelector?: string };
  pageSize: number;
  /** the server ends each watch after a random time in [this, 2×this], as client-go asks */
  watchTimeoutSeconds: number;
  backoff: BackoffOptions;
  /** a full relist this often; 0 = only on 410 */
  resyncMs: number;
  client: ApiClient;
  handler: ReflectorHandler<T>;
  onState: (state: ReflectorState) => void;
  /** a failed request or an object that could not be read; counted by the source */
  onError: (err: unknown, what: string) => void;
}


function keyOf(obj: Record<string, unknown>): { key: string; rv: string } | undefined {
  const m = obj.metadata as { name?: unknown; namespace?: unknown; resourceVersion?: unknown } | undefined;
  if (!m || typeof m.name !== 'string') return undefined;
  return { key: typeof m.namespace === 'string' && m.namespace ? `${m.namespace}/${m.name}` : m.name, rv: String(m.resourceVersion ?? '') };
}

export class Reflector<T> {
  private rv = '';
  private known = new Map<string, string>();
  private phase: Phase = 'initial';
  private stopped = false;
  private healthy: boolean | undefined;
  private lastReason = '';
  private readonly backoff: Backoff;
  private wake: (() => void) | undefined;
  private watchAbort: AbortController | undefined;
  private lastList = 0;
  private running: Promise<void> | undefined;
  /** true while a list is under way: the handler holds what it saw but has not seen the removals yet */
  listing = false;

  constructor(private readonly opts: ReflectorOptions<T>) {
    this.backoff = new Backoff(opts.backoff);
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchAbort?.abort();
    this.wake?.();
    await this.running;
  }

  /** Ends a backoff wait now (the API answers again). */
  retryNow(): void {
    this.wake?.();
  }

  /** the resourceVersion a resumed watch would start from ('' = a list is due) */
  resourceVersion(): string {
    return this.rv;
  }

  private async run(): Promise<void> {
    let gone = 0; // 410s in a row: a server that answers every watch with 410 must not make us spin
    while (!this.stopped) {
      try {
        if (!this.rv || this.resyncDue()) await this.list();
        const { events, ms } = await this.watch();
        gone = 0;
        // a watch that ends at once with nothing in it (a proxy closing streams) would otherwise loop hot
        if (events === 0 && ms < 1000) await this.sleep(this.backoff.next());
      } catch (err) {
        if (this.stopped) return;
        if (isGone(err)) {
          this.rv = '';
          if (++gone > 1) await this.sleep(this.backoff.next());
          continue;
        }
        this.opts.onError(err, this.opts.name);
        this.setState(false, `${this.opts.name}: ${describe(err)}`);
        await this.sleep(this.backoff.next());
      }
    }
  }

  private resyncDue(): boolean {
    return this.opts.resyncMs > 0 && Date.now() - this.lastList >= this.opts.resyncMs;
  }

  private async list(): Promise<void> {
    const { client, path, selectors, pageSize, handler } = this.opts;
    this.listing = true;
    const phase: Phase = this.phase === 'initial' ? 'initial' : 'relist';
    const fresh = new Map<string, string>();
    let cont = '';
    let rv = '';
    for (let expired = 0; ; ) {
      let page;
      try {
        page = await client.list(path, { ...selectors, limit: String(pageSize), ...(cont && { continue: cont }) });
      } catch (err) {
        // a continue token outlived by compaction: the real server says 410; start the list over, a few times
        if (!cont || !isGone(err) || ++expired > 3) throw err;
        fresh.clear();
        cont = '';
        continue;
      }
      for (const item of page.items) this.listed(item as Record<string, unknown>, fresh, phase);
      cont = page.continue;
      rv = page.resourceVersion;
      if (!cont) break;
    }
    for (const key of this.known.keys()) if (!fresh.has(key)) handler.remove(key, phase);
    this.known = fresh;
    this.rv = rv;
    this.lastList = Date.now();
    this.listing = false;
    this.phase = 'watch';
    this.backoff.reset();
    handler.synced(phase);
    this.setState(true, '');
  }

  private listed(obj: Record<string, unknown>, fresh: Map<string, string>, phase: Phase): void {
    const id = keyOf(obj);
    if (!id) return;
    const item = this.convert(obj);
    if (item === undefined) return;
    fresh.set(id.key, id.rv);
    if (this.known.get(id.key) !== id.rv || !id.rv) this.opts.handler.upsert(id.key, item, phase);
  }

  private async watch(): Promise<{ events: number; ms: number }> {
    const { client, path, selectors, watchTimeoutSeconds } = this.opts;
    const timeout = Math.round(watchTimeoutSeconds * (1 + Math.random()));
    const started = Date.now();
    let events = 0;
    this.watchAbort = new AbortController();
    const query = { ...selectors, resourceVersion: this.rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeout) };
    const resync = this.opts.resyncMs > 0 ? setTimeout(() => this.watchAbort?.abort(), this.opts.resyncMs) : undefined;
    try {
      await client.watch(path, query, {
        idleMs: (timeout + 30) * 1000,
        signal: this.watchAbort.signal,
        onOpen: () => this.setState(true, ''),
        onEvent: (e) => {
          events++;
          this.event(e);
        },
      });
    } finally {
      clearTimeout(resync);
    }
    if (events > 0) this.backoff.reset();
    return { events, ms: Date.now() - started };
  }

  private event(e: WatchEvent): void {
    const { handler } = this.opts;
    const id = keyOf(e.object);
    if (e.type !== 'BOOKMARK' && id) {
      const item = e.type === 'DELETED' ? undefined : this.convert(e.object);
      if (item === undefined) {
        if (this.known.delete(id.key)) handler.remove(id.key, 'watch');
      } else if (this.known.get(id.key) !== id.rv || !id.rv) {
        this.known.set(id.key, id.rv);
        handler.upsert(id.key, item, 'watch');
      }
    }
    const rv = e.object.metadata?.resourceVersion;
    if (rv) this.rv = rv;
  }

  private convert(obj: Record<string, unknown>): T | undefined {
    try {
      return this.opts.handler.convert(obj);
    } catch (err) {
      this.opts.onError(new ApiError(`unreadable ${this.opts.name} object ${keyOf(obj)?.key ?? '?'}: ${describe(err)}`), `${this.opts.name}-object`);
      return undefined;
    }
  }

  private setState(healthy: boolean, reason: string): void {
    if (healthy === this.healthy && (healthy || reason === this.lastReason)) return;
    this.healthy = healthy;
    this.lastReason = reason;
    this.opts.onState({ healthy, reason });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
