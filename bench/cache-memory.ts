/**
 * Child process of bench/run.ts (run with --expose-gc): feeds 2 × max distinct users, each with one
 * session and one real access token (minted and verified by the library's AccessTokens, so the
 * token strings and claims objects are what the guard holds), through the RevocationCache exactly
 * as the authenticator does, and reports what stays on the heap.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RevocationCache } from '../lib/cache/revocation-cache.js';
import { AccessTokens } from '../lib/core/access-tokens.js';
import { MemorySessionStore } from '../lib/index.js';
import { resolveOptions } from '../lib/session-revocation-options.js';
import { BENCH_JWT, round } from './common.js';

const { maxes } = JSON.parse(process.argv[2]) as { maxes: number[] };

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = () => {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
};

const tokens = new AccessTokens(resolveOptions({ store: new MemorySessionStore(), jwt: BENCH_JWT }));
const results = [];
for (const max of maxes) {
  const users = 2 * max;
  const before = heap();
  const cache = new RevocationCache(max, 60_000);
  let peak = 0;
  let ms = 0;
  for (let i = 1; i <= users; i++) {
    const userId = 100_000 + i; // ids of the width a real table has
    const now = Date.now();
    const fingerprint = tokens.fingerprint(userId, randomUUID());
    const sid = randomUUID();
    // A fresh string, as a request's header yields it (not the minted one, which V8 may share).
    const token = `${tokens.mint(userId, { id: sid, sessionTokenFingerprint: fingerprint, authTime: now })} `.trimEnd();
    const claims = tokens.verify(token)!;
    const start = performance.now();
    const facts = { userId: String(userId), createdAt: now, lastSeenAt: now, expiresAt: now + 2_592_000_000, absoluteExpiresAt: now + 7_776_000_000, endedAt: null, authTime: now };
    cache.setToken(token, claims, { userId, fingerprint }, facts, now, cache.generation);
    ms += performance.now() - start;
    if (cache.size > peak) peak = cache.size;
  }
  const after = heap();
  results.push({
    configuredMax: max,
    usersFed: users,
    entriesHeld: cache.size,
    peakEntries: peak,
    tokenLength: tokens.mint(1, { id: randomUUID(), sessionTokenFingerprint: 'x'.repeat(22), authTime: Date.now() }).length,
    cacheHeapMB: round((after - before) / 2 ** 20),
    bytesPerEntry: Math.round((after - before) / Math.max(cache.size, 1)),
    nsPerInsert: Math.round((ms * 1e6) / users),
  });
  cache.clear();
}
process.send?.({ results });
if (!process.send) console.log(results);
