/**
 * Collapses concurrent loads of one key into one: while a load for `key` started under the same
 * `tag` is under way, later callers get its promise instead of starting another. A caller with
 * another tag (the cache's invalidation generation moved on: a revocation was applied since that
 * load began) starts a fresh load, which later callers then join.
 * @internal
 */
export class SingleFlight<V> {
  private readonly flights = new Map<string, { tag: number; promise: Promise<V> }>();

  /** Loads in flight (for tests and diagnostics). */
  get size(): number {
    return this.flights.size;
  }

  run(key: string, tag: number, load: () => Promise<V>): Promise<V> {
    const current = this.flights.get(key);
    if (current && current.tag === tag) return current.promise;
    const flight = { tag, promise: load() };
    this.flights.set(key, flight);
    const land = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    flight.promise.then(land, land);
    return flight.promise;
  }
}
