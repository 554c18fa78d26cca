import { SingleFlight } from './single-flight.js';

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

describe('SingleFlight', () => {
  it('runs one load for concurrent callers of one key and tag, then forgets it', async () => {
    const flights = new SingleFlight<number>();
    const d = deferred<number>();
    let loads = 0;
    const load = () => (loads++, d.promise);
    const a = flights.run('k', 1, load);
    const b = flights.run('k', 1, load);
    const other = flights.run('other', 1, () => Promise.resolve(7));
    expect(loads).toBe(1);
    d.resolve(42);
    expect(await Promise.all([a, b, other])).toEqual([42, 42, 7]);
    expect(flights.size).toBe(0);
    await flights.run('k', 1, () => Promise.resolve(43));
    expect(loads).toBe(1);
  });

  it('a caller with another tag starts its own load, which later callers join', async () => {
    const flights = new SingleFlight<string>();
    const old = deferred<string>();
    const fresh = deferred<string>();
    const first = flights.run('k', 1, () => old.promise);
    const second = flights.run('k', 2, () => fresh.promise);
    const third = flights.run('k', 2, () => Promise.resolve('never'));
    old.resolve('old');
    fresh.resolve('fresh');
    expect(await Promise.all([first, second, third])).toEqual(['old', 'fresh', 'fresh']);
    expect(flights.size).toBe(0);
  });

  it('hands a failure to every joined caller and does not keep it', async () => {
    const flights = new SingleFlight<number>();
    const d = deferred<number>();
    const a = flights.run('k', 1, () => d.promise);
    const b = flights.run('k', 1, () => d.promise);
    d.reject(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await expect(b).rejects.toThrow('down');
    expect(await flights.run('k', 1, () => Promise.resolve(1))).toBe(1);
  });
});
