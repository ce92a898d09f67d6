// kubelet's `Unhealthy` Events (failed probes): kubelet counts repeats of a failure on one Event (count, or
// series.count for events.k8s.io ones), so what is news is the rise of that count since we last saw the Event.
// The first list's Events from before start-up are history, not news: they are remembered, not emitted.
import type { PodRef } from '../observe/objects';
import type { StringPool } from './string-pool';
import type { Phase } from './reflector';
import type { UnhealthyEvent } from './types';
import { num, str, type WireEvent } from './wire';

export interface EventRecord extends UnhealthyEvent {
  /** the node kubelet reported from (source.host, or reportingInstance for events.k8s.io ones) */
  host: string;
}

const CONTAINER = /^spec\.(?:containers|initContainers|ephemeralContainers)\{(.+)\}$/;

function time(...values: (string | null | undefined)[]): number {
  for (const v of values) {
    const t = v ? Date.parse(v) : NaN;
    if (Number.isFinite(t)) return t;
  }
  return Date.now();
}

export function eventRecord(e: WireEvent, intern: StringPool): EventRecord | undefined {
  const o = e.involvedObject;
  if (e.reason !== 'Unhealthy' || o?.kind !== 'Pod' || !str(o.name)) return undefined;
  const pod: PodRef = { namespace: intern.get(str(o.namespace) || str(e.metadata?.namespace)), name: str(o.name) };
  const rec: EventRecord = {
    pod,
    uid: str(e.metadata?.uid),
    message: str(e.message),
    count: Math.max(1, num(e.series?.count) ?? num(e.count) ?? 1),
    at: time(e.series?.lastObservedTime, e.lastTimestamp, e.eventTime, e.firstTimestamp, e.metadata?.creationTimestamp),
    host: intern.get(str(e.source?.host) || str(e.reportingInstance)),
  };
  const container = CONTAINER.exec(str(o.fieldPath))?.[1];
  if (container) rec.container = container;
  return rec;
}

export class UnhealthyEvents {
  private readonly seen = new Map<string, { uid: string; count: number }>();
  /** Events the first list returns are news only from this instant on (whole seconds: lastTimestamp's precision) */
  private readonly since: number;

  constructor(startedAt: number) {
    this.since = Math.floor(startedAt / 1000) * 1000;
  }

  /** What the change tells that we did not know, or undefined. */
  upsert(key: string, rec: EventRecord, phase: Phase): UnhealthyEvent | undefined {
    const prev = this.seen.get(key);
    this.seen.set(key, { uid: rec.uid, count: rec.count });
    const count = prev && prev.uid === rec.uid ? rec.count - prev.count : rec.count;
    if (count <= 0 || (phase === 'initial' && rec.at < this.since)) return undefined;
    const { host: _host, ...event } = rec;
    return { ...event, count };
  }

  remove(key: string): void {
    this.seen.delete(key);
  }

  size(): number {
    return this.seen.size;
  }
}
