import type { Listener } from './source';

/** A typed subscriber list. A throwing listener is reported, never allowed to stop the others. */
export class Listeners<T> {
  private readonly list: Listener<T>[] = [];

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Returns the unsubscribe function. */
  add(listener: Listener<T>): () => void {
    this.list.push(listener);
    return () => {
      const i = this.list.indexOf(listener);
      if (i >= 0) this.list.splice(i, 1);
    };
  }

  emit(items: T[]): void {
    if (items.length === 0) return;
    for (const listener of this.list) {
      try {
        listener(items);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
