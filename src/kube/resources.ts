// The four resources KubeSource watches: where each lives in the API, the selectors that keep its stream to
// what this node needs, and what a change of each does to the source's state.
import { parseObjectKey, type PodInfo } from '../observe/objects';
import { SERVICE_NAME_LABEL, sliceRecord, type SliceRecord } from './endpointslices';
import { eventRecord, type EventRecord, type UnhealthyEvents } from './events';
import type { PodStore } from './pod-store';
import { podInfo } from './pods';
import type { Phase, ReflectorHandler } from './reflector';
import { serviceRecord, type ServiceRecord } from './services';
import type { ReadinessFlip, UnhealthyEvent } from './types';
import type { StringPool } from './string-pool';
import type { LocalFlip, ServiceStore } from './views';
import type { WireEndpointSlice, WireEvent, WirePod, WireService } from './wire';

/** What the handlers may touch of the source. */
export interface ResourceContext {
  nodeName: string;
  intern: StringPool;
  store: ServiceStore;
  pods: PodStore;
  events: () => UnhealthyEvents;
  /** the Services or pods changed: a publish is due */
  changed: () => void;
  unhealthy: (e: UnhealthyEvent) => void;
  flips: (f: ReadinessFlip[]) => void;
  /** warns once per subject and set of problems; forget() when the subject is gone */
  warn: (subject: string, problems: string[]) => void;
  forget: (subject: string) => void;
  podsSynced: () => void;
}

export interface Resource {
  path: string;
  selectors?: { fieldSelector?: string; labelSelector?: string };
  handler: ReflectorHandler<unknown>;
}

export type ResourceName = 'services' | 'endpointslices' | 'pods' | 'events';

export function resources(ctx: ResourceContext): Record<ResourceName, Resource> {
  const flips = (list: LocalFlip[], phase: Phase) => {
    if (phase === 'initial' || list.length === 0) return; // the first list is the baseline, not a change
    const at = Date.now();
    ctx.flips(list.map((f) => ({ service: parseObjectKey(f.service), addr: f.ip, ready: f.ready, at, ...(f.pod && { pod: f.pod }) })));
  };
  const services: ReflectorHandler<ServiceRecord> = {
    convert: (obj) => serviceRecord(obj as WireService),
    upsert(key, rec) {
      ctx.warn(`Service ${key}`, rec.problems);
      ctx.store.setService(key, rec);
      ctx.changed();
    },
    remove(key) {
      ctx.forget(`Service ${key}`);
      ctx.store.removeService(key);
      ctx.changed();
    },
    synced: () => ctx.changed(),
  };
  const slices: ReflectorHandler<SliceRecord> = {
    convert: (obj) => sliceRecord(obj as WireEndpointSlice, ctx.nodeName, ctx.intern),
    upsert(key, rec, phase) {
      flips(ctx.store.setSlice(key, rec), phase);
      ctx.changed();
    },
    remove(key, phase) {
      flips(ctx.store.removeSlice(key), phase);
      ctx.changed();
    },
    synced: () => ctx.changed(),
  };
  const pods: ReflectorHandler<PodInfo> = {
    convert(obj) {
      const problems: string[] = [];
      const pod = podInfo(obj as WirePod, ctx.intern, problems);
      if (pod) ctx.warn(`pod ${pod.namespace}/${pod.name}`, problems);
      return pod;
    },
    upsert(key, pod) {
      ctx.pods.set(key, pod);
      ctx.changed();
    },
    remove(key) {
      ctx.forget(`pod ${key}`);
      ctx.pods.remove(key);
      ctx.changed();
    },
    synced(phase) {
      ctx.pods.synced = true;
      if (phase === 'initial') ctx.podsSynced();
      ctx.changed();
    },
  };
  const events: ReflectorHandler<EventRecord> = {
    convert(obj) {
      const rec = eventRecord(obj as WireEvent, ctx.intern);
      // the API cannot select by node: an Event is ours when its pod is, or kubelet reported it from here
      return rec && (ctx.pods.has(rec.pod.namespace, rec.pod.name) || rec.host === ctx.nodeName) ? rec : undefined;
    },
    upsert(key, rec, phase) {
      const e = ctx.events().upsert(key, rec, phase);
      if (e) ctx.unhealthy(e);
    },
    remove: (key) => ctx.events().remove(key),
    synced: () => undefined,
  };
  return {
    services: resource('/api/v1/services', services),
    endpointslices: resource('/apis/discovery.k8s.io/v1/endpointslices', slices, { labelSelector: SERVICE_NAME_LABEL }),
    pods: resource('/api/v1/pods', pods, { fieldSelector: `spec.nodeName=${ctx.nodeName}` }),
    events: resource('/api/v1/events', events, { fieldSelector: 'involvedObject.kind=Pod,reason=Unhealthy' }),
  };
}

// The reflector never mixes items of two resources: each handler gets back what its own convert() made.
function resource<T>(path: string, handler: ReflectorHandler<T>, selectors?: Resource['selectors']): Resource {
  return { path, handler: handler as unknown as ReflectorHandler<unknown>, ...(selectors && { selectors }) };
}
