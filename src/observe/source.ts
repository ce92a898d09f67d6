// What every source is to the daemon: started, stopped, and asked how it is.

export type Listener<T> = (items: T[]) => void;

export interface SourceStatus {
  /** drops, drop_samples, retransmits, conntrack, kubeproxy, kubernetes, … */
  source: string;
  up: boolean;
  /** why it is down, or what is missing while up; '' when fully up */
  reason: string;
}

/** A source's status plus its monotonic totals, read at scrape time. */
export interface SourceStats extends SourceStatus {
  errors: number;
  /** events the kernel side could not hand over (full map or ring, evicted flows) */
  eventsLost: number;
  /** events skipped on purpose by a rate limit */
  rateLimited: number;
}

/** What the daemon starts, stops and reports on. start() never rejects: a source that cannot run says why in stats(). */
export interface Source {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** one entry per stream the source delivers (the tracer has several) */
  stats(): SourceStats[];
}
