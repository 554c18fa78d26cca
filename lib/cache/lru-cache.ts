/**
 * A small bounded LRU map with a per-entry TTL. Never holds more than `max` entries.
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
  private readonly map = new Map<string, { value: V; expiresAt: number }>();
  private evictionCursor?: Iterator<string>;

  constructor(
    readonly max: number,
    readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    // Refresh recency: Map keeps insertion order, oldest first.
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.map.size > this.max) this.evictOldest();
  }

  private evictOldest(): void {
    let next = this.evictionCursor?.next();
    if (!next || next.done) {
      // First eviction, or the cursor ran out (it cannot see past its end once done).
      this.evictionCursor = this.map.keys();
      next = this.evictionCursor.next();
    }
    if (!next.done) this.map.delete(next.value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.evictionCursor = undefined;
  }
}
