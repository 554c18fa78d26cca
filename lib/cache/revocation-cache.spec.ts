import { randomUUID } from 'node:crypto';
import type { AccessClaims } from '../core/access-tokens.js';
import { RevocationCache, type CachedSessionFacts } from './revocation-cache.js';

const NOW = 1_000_000;
const facts = (userId: string): CachedSessionFacts => ({
  userId,
  createdAt: NOW - 1000,
  lastSeenAt: NOW - 1000,
  expiresAt: NOW + 86_400_000,
  absoluteExpiresAt: NOW + 86_400_000,
  endedAt: null,
  authTime: NOW - 1000,
});

describe('RevocationCache', () => {
  let cache: RevocationCache;
  let counter = 0;
  beforeEach(() => {
    cache = new RevocationCache(4, 5000);
  });

  /** Caches one token of `sid` for `userId`; returns the token string. */
  const put = (userId: string, sid: string, fingerprint = `fp-${userId}`, generation = cache.generation): string => {
    const token = `token-${counter++}`;
    const claims: AccessClaims = { sub: userId, sid, sfp: fingerprint, iat: 0, exp: 0, payload: {} };
    cache.setToken(token, claims, { userId, fingerprint }, facts(userId), NOW, generation);
    return token;
  };
  const live = (token: string, now = NOW) => {
    const entry = cache.getToken(token);
    return !!entry && cache.isLive(entry, now);
  };

  it('serves a token with its claims and session until cache.ttl after the read', () => {
    const sid = randomUUID();
    const token = put('1', sid);
    expect(cache.getToken(token)).toMatchObject({ iat: 0, exp: 0, nbf: undefined });
    expect(cache.getToken(token)?.session).toMatchObject({ id: sid, userId: '1', user: { id: '1', userId: '1' } });
    expect(live(token, NOW + 4999)).toBe(true);
    expect(live(token, NOW + 5000)).toBe(false);
    // Stale, but the entry is still there: its claims were verified, only the session is re-read.
    expect(cache.getToken(token)?.session.user.fingerprint).toBe('fp-1');
  });

  it('a session revocation makes every token of that session a miss, and only those', () => {
    const sid = randomUUID();
    const [a, b] = [put('1', sid), put('1', sid)];
    const other = put('1', randomUUID());
    cache.apply({ t: 'session', id: sid });
    expect(live(a)).toBe(false);
    expect(live(b)).toBe(false);
    expect(live(other)).toBe(true);
    expect(cache.getSession(sid)).toBeUndefined();
  });

  it('a user revocation makes every token of every session of that user a miss', () => {
    const [a, b] = [put('1', randomUUID()), put('1', randomUUID())];
    const other = put('2', randomUUID());
    cache.apply({ t: 'user', id: '1' });
    expect([live(a), live(b), live(other)]).toEqual([false, false, true]);
    expect(cache.getUser('1')).toBeUndefined();
    expect(cache.getUser('2')).toBeDefined();
  });

  it('{ t: "all" } clears everything and counts an epoch generation', () => {
    const token = put('1', randomUUID());
    const before = cache.epochGeneration;
    cache.apply({ t: 'all' });
    expect(cache.getToken(token)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.epochGeneration).toBe(before + 1);
  });

  it('does not cache a read that began before a revocation was applied', () => {
    const generation = cache.generation;
    cache.apply({ t: 'session', id: randomUUID() });
    const token = put('1', randomUUID(), 'fp-1', generation);
    expect(cache.getToken(token)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('a second token of a live session refreshes it in place: the first stays a hit', () => {
    const sid = randomUUID();
    const first = put('1', sid);
    const second = put('1', sid);
    expect(cache.getToken(first)?.session).toBe(cache.getToken(second)?.session);
    expect(live(first)).toBe(true);
  });

  it('a read with a new fingerprint for the user retires the old user entry and its sessions', () => {
    const old = put('1', randomUUID(), 'fp-old');
    const fresh = put('1', randomUUID(), 'fp-new');
    expect(live(old)).toBe(false);
    expect(live(fresh)).toBe(true);
    expect(cache.getUser('1')?.fingerprint).toBe('fp-new');
  });

  it('holds at most max tokens; a session and a user go with their last token', () => {
    const sessions = Array.from({ length: 6 }, () => randomUUID());
    const tokens = sessions.map((sid, i) => put(String(i), sid));
    expect(cache.size).toBe(4);
    // The two oldest were evicted: their session and user entries are gone and dead.
    expect(cache.getToken(tokens[0])).toBeUndefined();
    expect(cache.getSession(sessions[0])).toBeUndefined();
    expect(cache.getUser('0')).toBeUndefined();
    expect(cache.getSession(sessions[5])).toBeDefined();
    // A session with two tokens survives the eviction of one of them.
    cache.clear();
    const sid = randomUUID();
    const a = put('9', sid);
    put('9', sid);
    for (let i = 0; i < 3; i++) put(String(20 + i), randomUUID()); // evicts a only
    expect(cache.getToken(a)).toBeUndefined();
    expect(cache.getSession(sid)).toBeDefined();
    expect(cache.getUser('9')).toBeDefined();
  });

  it('serves and stores nothing while bypassed (strict mode or the bus down)', () => {
    const token = put('1', randomUUID());
    cache.setBypass(true);
    expect(cache.getToken(token)).toBeUndefined();
    expect(put('1', randomUUID()) && cache.size).toBe(0);
    cache.setBypass(false);
    expect(cache.size).toBe(0);
    const strict = new RevocationCache(0, 5000, false);
    strict.setBypass(false);
    expect(strict.bypassed).toBe(true);
  });
});
