/**
 * Child process of bench/run.ts (run with --expose-gc): feeds 1,000,000 distinct users, each
 * with one session, through the guard's RevocationCache exactly as SessionService does (a user
 * entry, then a session entry pointing at it) and reports what stays on the heap.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RevocationCache, type CachedSession, type CachedUser } from '../lib/cache/revocation-cache.js';
import { round } from './common.js';

const { users, maxes } = JSON.parse(process.argv[2]) as { users: number; maxes: number[] };

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = () => {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
};

const results = [];
for (const max of maxes) {
  const before = heap();
  const cache = new RevocationCache(max, 60_000);
  let peak = 0;
  const start = performance.now();
  for (let i = 1; i <= users; i++) {
    const userId = String(i);
    const now = Date.now();
    const generation = cache.generation;
    // What the guard stores: the 128-bit base64url fingerprint, and the session's row fields.
    const user: CachedUser = { fingerprint: randomBytes(16).toString('base64url') };
    cache.setUser(userId, user, generation);
    const session: CachedSession = { user, userId, createdAt: now, expiresAt: now + 2_592_000_000, absoluteExpiresAt: now + 7_776_000_000, endedAt: null, lastSeenAt: now, authTime: now };
    cache.setSession(randomUUID(), session, generation);
    if (cache.size > peak) peak = cache.size;
  }
  const ms = performance.now() - start;
  const after = heap();
  results.push({
    configuredMax: max,
    usersFed: users,
    entriesHeld: cache.size,
    peakEntries: peak,
    heapBeforeMB: round(before / 2 ** 20),
    heapAfterMB: round(after / 2 ** 20),
    cacheHeapMB: round((after - before) / 2 ** 20),
    bytesPerEntry: Math.round((after - before) / Math.max(cache.size, 1)),
    nsPerUser: Math.round((ms * 1e6) / users),
  });
  cache.clear();
}
process.send!({ results });
