/**
 * A small bounded LRU map. Never holds more than `max` entries; `onRemove` hears of every entry
 * that leaves by eviction, `delete` or replacement (not by `clear`, whose caller resets its own
 * bookkeeping). Entries are stored as they are, without a wrapper object.
 *
 * A `Map` keeps insertion order, so its first key is the least recently used one. Eviction
 * takes it from one long-lived key iterator instead of a fresh `map.keys()` each time: a fresh
 * iterator walks over every slot that earlier deletions left at the front of the hash table
 * (until it is rehashed), which made each eviction cost O(deleted slots) - ~20 µs at 10,000
 * entries. The long-lived iterator has passed those slots already. It stays correct because
 * it only ever advances by evicting: every key before its position has been deleted, so the
 * next key it yields is the oldest entry still present.
 * @internal
 */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  private evictionCursor?: Iterator<string>;

  constructor(
    readonly max: number,
    private readonly onRemove?: (value: V, key: string) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The entry, made the most recently used one (one delete and one set of the map). */
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      if (old !== value) this.onRemove?.(old, key);
    }
    this.map.set(key, value);
    if (this.map.size > this.max) this.evictOldest();
  }

  delete(key: string): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.map.delete(key);
    this.onRemove?.(value, key);
  }

  clear(): void {
    this.map.clear();
    this.evictionCursor = undefined;
  }

  private evictOldest(): void {
    let next = this.evictionCursor?.next();
    if (!next || next.done) {
      // First eviction, or the cursor ran out (it cannot see past its end once done).
      this.evictionCursor = this.map.keys();
      next = this.evictionCursor.next();
    }
    if (!next.done) this.delete(next.value);
  }
}
