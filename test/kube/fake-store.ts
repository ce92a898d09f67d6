// The fake API server's etcd: objects per resource, one resourceVersion counter for all of them (as etcd's
// revision), and the history of changes that watches replay and paginated lists read their snapshot from.
// compact() forgets history, as etcd compaction does: a watch or a continue token from before it gets 410.
import { randomUUID } from 'node:crypto';

export type Resource = 'services' | 'endpointslices' | 'pods' | 'events';

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  rv: number;
  resource: Resource;
  type: ChangeType;
  obj: KubeObject;
  /** the object before a MODIFIED or DELETED */
  prev?: KubeObject;
}

export const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class FakeStore {
  /** the newest resourceVersion */
  rv = 1;
  /** history holds every change after this version */
  compactedRv = 1;
  private readonly objects = new Map<Resource, Map<string, KubeObject>>();
  private history: Change[] = [];
  private readonly subscribers = new Set<(c: Change) => void>();

  onChange(fn: (c: Change) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  get(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    const o = this.map(resource).get(`${namespace}/${name}`);
    return o && structuredClone(o);
  }

  /** Creates or replaces; returns the stored object with its new resourceVersion. */
  put(resource: Resource, input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    obj.metadata.namespace ??= 'default';
    const key = keyOf(obj);
    const prev = this.map(resource).get(key);
    obj.metadata.uid ??= prev?.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp ??= prev?.metadata.creationTimestamp ?? new Date().toISOString();
    obj.metadata.resourceVersion = String(++this.rv);
    this.map(resource).set(key, obj);
    this.record({ rv: this.rv, resource, type: prev ? 'MODIFIED' : 'ADDED', obj, ...(prev && { prev }) });
    return structuredClone(obj);
  }

  remove(resource: Resource, namespace: string, name: string): boolean {
    const key = `${namespace}/${name}`;
    const prev = this.map(resource).get(key);
    if (!prev) return false;
    this.map(resource).delete(key);
    const obj = { ...structuredClone(prev), metadata: { ...prev.metadata, resourceVersion: String(++this.rv) } };
    this.record({ rv: this.rv, resource, type: 'DELETED', obj, prev });
    return true;
  }

  /** Other writes (resources nobody here watches) move the revision on. */
  bump(n = 1): void {
    this.rv += n;
  }

  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Changes of `resource` after `rv`; undefined when compaction forgot some of them. */
  since(resource: Resource, rv: number): Change[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.history.filter((c) => c.rv > rv && c.resource === resource);
  }

  /** The objects as they were at `rv` (for the pages of a list after the first); undefined when compacted. */
  at(resource: Resource, rv: number): Map<string, KubeObject> | undefined {
    const later = this.since(resource, rv);
    if (!later) return undefined;
    if (later.length === 0) return this.map(resource);
    const state = new Map(this.map(resource));
    for (const c of later.reverse()) {
      if (c.type === 'ADDED') state.delete(keyOf(c.obj));
      else state.set(keyOf(c.prev!), c.prev!);
    }
    return state;
  }

  private map(resource: Resource): Map<string, KubeObject> {
    let m = this.objects.get(resource);
    if (!m) this.objects.set(resource, (m = new Map()));
    return m;
  }

  private record(c: Change): void {
    this.history.push(c);
    for (const fn of this.subscribers) fn(c);
  }
}
