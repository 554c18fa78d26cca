import fc from 'fast-check';
import { LruCache } from './lru-cache.js';

/** The obvious LRU: an array, most recent last. */
class ModelLru {
  readonly entries: Array<[string, number]> = [];
  constructor(private readonly max: number) {}
  get(key: string): number | undefined {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i < 0) return undefined;
    const [entry] = this.entries.splice(i, 1);
    this.entries.push(entry);
    return entry[1];
  }
  set(key: string, value: number): void {
    this.delete(key);
    this.entries.push([key, value]);
    if (this.entries.length > this.max) this.entries.shift();
  }
  delete(key: string): void {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i >= 0) this.entries.splice(i, 1);
  }
  clear(): void {
    this.entries.length = 0;
  }
}

type Op = { op: 'get' | 'set' | 'delete'; key: string; value: number } | { op: 'clear' };

const ops = (keys: number) =>
  fc.array(
    fc.oneof(
      { weight: 10, arbitrary: fc.record({ op: fc.constantFrom('get' as const, 'set' as const, 'delete' as const), key: fc.integer({ min: 0, max: keys }).map(String), value: fc.integer() }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    ),
    { maxLength: 400 },
  );

describe('LruCache', () => {
  it('behaves like a plain LRU of the same size for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), ops(20), (max, sequence: Op[]) => {
        const cache = new LruCache<number>(max);
        const model = new ModelLru(max);
        for (const step of sequence) {
          if (step.op === 'clear') {
            cache.clear();
            model.clear();
          } else if (step.op === 'get') {
            expect(cache.get(step.key)).toBe(model.get(step.key));
          } else if (step.op === 'set') {
            cache.set(step.key, step.value);
            model.set(step.key, step.value);
          } else {
            cache.delete(step.key);
            model.delete(step.key);
          }
          expect(cache.size).toBe(model.entries.length);
          expect(cache.size).toBeLessThanOrEqual(max);
        }
        // Same contents (reading every model key refreshes both alike).
        for (const [key, value] of [...model.entries]) expect(cache.get(key)).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it('evicts the least recently used entry and reports every entry that leaves, except on clear', () => {
    const removed: Array<[string, string]> = [];
    const cache = new LruCache<string>(2, (value, key) => removed.push([key, value]));
    cache.set('a', 'A');
    cache.set('b', 'B');
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('c', 'C');
    expect(removed).toEqual([['b', 'B']]);
    expect(cache.get('b')).toBeUndefined();
    cache.set('a', 'A2'); // replaced
    cache.set('a', 'A2'); // the same value again: nothing leaves
    cache.delete('c');
    cache.delete('missing');
    expect(removed).toEqual([['b', 'B'], ['a', 'A'], ['c', 'C']]);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(removed).toHaveLength(3);
  });
});
