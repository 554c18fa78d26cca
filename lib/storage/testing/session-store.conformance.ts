import { randomUUID } from 'node:crypto';
import type { UserId } from '../../interfaces/session-context.interface.js';
import type { RefreshTokenRecord, SessionRecord, SessionStore } from '../session-store.interface.js';

/** What the conformance suite needs of a store under test. */
export interface SessionStoreUnderTest {
  store: SessionStore;
  /** Creates a user the store knows (a row of the app's user table, or an in-memory user). */
  createUser(): Promise<UserId>;
  /** Releases what the setup created. */
  close(): Promise<void>;
}

/**
 * The behaviours every {@link SessionStore} must have, as one jest suite: run it against each
 * implementation (`describeSessionStoreConformance('memory', async () => ...)`), as better-auth
 * runs one suite against every adapter.
 */
export function describeSessionStoreConformance(name: string, setup: () => Promise<SessionStoreUnderTest>): void {
  describe(`SessionStore conformance: ${name}`, () => {
    let t: SessionStoreUnderTest;
    let store: SessionStore;
    beforeAll(async () => {
      t = await setup();
      store = t.store;
    });
    afterAll(async () => t?.close());

    const now = Date.now();
    const session = (userId: UserId, overrides: Partial<SessionRecord> = {}): SessionRecord => ({
      id: randomUUID(),
      userId: String(userId),
      sessionTokenFingerprint: 'fp-1',
      userAgent: 'jest',
      ip: '127.0.0.1',
      createdAt: now,
      lastSeenAt: now,
      authTime: now,
      expiresAt: now + 86_400_000,
      absoluteExpiresAt: now + 7_776_000_000,
      endedAt: null,
      endReason: null,
      claims: null,
      ...overrides,
    });
    const refreshToken = (sessionId: string, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
      tokenHash: randomUUID().replace(/-/g, '').padEnd(64, '0'),
      sessionId,
      sessionTokenFingerprint: 'fp-1',
      createdAt: now,
      expiresAt: now + 86_400_000,
      usedAt: null,
      ...overrides,
    });

    describe('users', () => {
      it('maps ids both ways', async () => {
        const userId = await t.createUser();
        expect(store.userIdOf(userId)).toBe(userId);
        expect(store.parseUserId(String(userId))).toBe(userId);
        expect(store.parseUserId('')).toBeUndefined();
        expect(store.parseUserId(42 as unknown)).toBeUndefined();
      });

      it('creates a session token once, then keeps it until rotated', async () => {
        const userId = await t.createUser();
        const first = await store.ensureSessionToken(userId);
        expect(first.sessionToken).toMatch(/^[0-9a-f]{32,}$/);
        const again = await store.ensureSessionToken(userId);
        expect(again.created).toBe(false);
        expect(again.sessionToken).toBe(first.sessionToken);
        expect(await store.getSessionToken(userId)).toBe(first.sessionToken);
        expect((await store.getUser(userId, []))?.sessionToken).toBe(first.sessionToken);
        await store.rotateSessionToken(userId);
        const rotated = await store.getSessionToken(userId);
        expect(rotated).toMatch(/^[0-9a-f]{32,}$/);
        expect(rotated).not.toBe(first.sessionToken);
      });

      it('rotates one user without touching another', async () => {
        const [a, b] = [await t.createUser(), await t.createUser()];
        const tokenB = (await store.ensureSessionToken(b)).sessionToken;
        await store.ensureSessionToken(a);
        await store.rotateSessionToken(a);
        expect(await store.getSessionToken(b)).toBe(tokenB);
      });
    });

    describe('sessions', () => {
      it('stores and reads a session back exactly', async () => {
        const userId = await t.createUser();
        const record = session(userId, { absoluteExpiresAt: 2 ** 42 });
        await store.createSession(record);
        expect(await store.findSession(record.id)).toEqual(record);
        expect(await store.findSession(randomUUID())).toBeNull();
      });

      it('keeps the app claims of a session as given, and replaces them', async () => {
        const claims = { username: 'ada', roles: ['admin', 'ops'], org: { id: 7, name: 'Ünïcode ✓' }, beta: true, limit: null };
        const record = session(await t.createUser(), { claims });
        await store.createSession(record);
        expect((await store.findSession(record.id))?.claims).toEqual(claims);
        await store.updateSession(record.id, { claims: { username: 'ada', roles: [] } });
        expect(await store.findSession(record.id)).toEqual({ ...record, claims: { username: 'ada', roles: [] } });
      });

      it('updates the fields the library changes', async () => {
        const record = session(await t.createUser());
        await store.createSession(record);
        await store.updateSession(record.id, { sessionTokenFingerprint: 'fp-2', lastSeenAt: now + 5, expiresAt: now + 10 });
        expect(await store.findSession(record.id)).toEqual({ ...record, sessionTokenFingerprint: 'fp-2', lastSeenAt: now + 5, expiresAt: now + 10 });
      });

      it('lists open sessions newest first, without ended ones or other users', async () => {
        const userId = await t.createUser();
        const older = session(userId, { createdAt: now - 2000 });
        const newer = session(userId, { createdAt: now - 1000 });
        const ended = session(userId, { createdAt: now - 500, endedAt: now, endReason: 'logout' });
        for (const s of [older, newer, ended, session(await t.createUser())]) await store.createSession(s);
        expect((await store.listOpenSessions(userId)).map((s) => s.id)).toEqual([newer.id, older.id]);
      });

      it('reads a session, its user session token and the epoch together', async () => {
        const userId = await t.createUser();
        const { sessionToken } = await store.ensureSessionToken(userId);
        const record = session(userId, { absoluteExpiresAt: 2 ** 42 });
        await store.createSession(record);
        const epoch = await store.getEpoch();
        const { userAgent: _agent, ip: _ip, endReason: _reason, claims: _claims, ...checked } = record;
        expect(await store.readSessionState(record.id, userId)).toMatchObject({ session: checked, sessionToken, epoch });

        await store.rotateSessionToken(userId);
        await store.endSession(record.id, { reason: 'revoke', at: now + 1 });
        await store.setEpoch(epoch + 1);
        const after = await store.readSessionState(record.id, userId);
        expect(after.sessionToken).toBe(await store.getSessionToken(userId));
        expect(after.sessionToken).not.toBe(sessionToken);
        expect(after.session).toMatchObject({ endedAt: now + 1 });
        expect(after.epoch).toBe(epoch + 1);
      });

      it('reads the user and the epoch of an unknown session, and no token of an unknown user', async () => {
        const userId = await t.createUser();
        const { sessionToken } = await store.ensureSessionToken(userId);
        const unknownSession = await store.readSessionState(randomUUID(), userId);
        expect(unknownSession).toEqual({ session: null, sessionToken, epoch: await store.getEpoch() });
        // Another user's session read with this user's id: the session is returned as stored
        // (the caller compares its userId), the token is this user's.
        const other = session(await t.createUser());
        await store.createSession(other);
        expect(await store.readSessionState(other.id, userId)).toMatchObject({ session: { userId: other.userId }, sessionToken });
        const missing = store.parseUserId(String(2 ** 30 + 7)) ?? 2 ** 30 + 7;
        expect(await store.readSessionState(other.id, missing)).toMatchObject({ session: { id: other.id, createdAt: other.createdAt }, sessionToken: null });
      });

      it('answers each of many concurrent reads with its own session, user token and epoch', async () => {
        const users = await Promise.all(Array.from({ length: 5 }, () => t.createUser()));
        const tokens = await Promise.all(users.map(async (u) => (await store.ensureSessionToken(u)).sessionToken));
        const records = Array.from({ length: 70 }, (_, i) => session(users[i % users.length], { lastSeenAt: now + i }));
        for (const r of records) await store.createSession(r);
        const epoch = (await store.getEpoch()) + 1000;
        await store.setEpoch(epoch);
        // More reads at once than one statement carries, unknown sessions and a foreign user among them.
        const reads = records.map((r, i) => ({ id: i % 9 === 0 ? randomUUID() : r.id, userId: users[(i + (i % 7 === 0 ? 1 : 0)) % users.length], record: r, i }));
        const states = await Promise.all(reads.map((read) => store.readSessionState(read.id, read.userId)));
        states.forEach((state, n) => {
          const { id, userId, record } = reads[n];
          expect(state.sessionToken).toBe(tokens[users.indexOf(userId)]);
          expect(state.epoch).toBe(epoch);
          if (id === record.id) expect(state.session).toMatchObject({ id, userId: record.userId, lastSeenAt: record.lastSeenAt });
          else expect(state.session).toBeNull();
        });
        // A user id the store's column cannot hold reads as "no such user", and fails no other read.
        const [odd, ...rest] = await Promise.all([store.readSessionState(records[1].id, 2 ** 53 - 1), ...records.slice(2, 6).map((r) => store.readSessionState(r.id, store.parseUserId(r.userId)!))]);
        expect(odd.sessionToken).toBeNull();
        rest.forEach((state, i) => expect(state.session?.id).toBe(records[2 + i].id));
      });

      it('moves lastSeenAt of a batch of sessions forward, never back', async () => {
        const userId = await t.createUser();
        const batch = Array.from({ length: 3 }, () => session(userId));
        const later = session(userId, { lastSeenAt: now + 50 });
        const bystander = session(userId);
        for (const s of [...batch, later, bystander]) await store.createSession(s);
        await store.touchSessions([...batch.map((s) => s.id), later.id, randomUUID()], now + 20);
        for (const s of batch) expect(await store.findSession(s.id)).toEqual({ ...s, lastSeenAt: now + 20 });
        expect(await store.findSession(later.id)).toMatchObject({ lastSeenAt: now + 50 });
        expect(await store.findSession(bystander.id)).toMatchObject({ lastSeenAt: now });
        await store.touchSessions([], now + 30);
      });

      it('touches more sessions in one call than one statement takes', async () => {
        const userId = await t.createUser();
        const many = Array.from({ length: 1001 }, () => session(userId));
        await Promise.all(many.map((s) => store.createSession(s)));
        await store.touchSessions(many.map((s) => s.id), now + 7);
        const open = await store.listOpenSessions(userId);
        expect(open).toHaveLength(1001);
        expect(open.every((s) => s.lastSeenAt === now + 7)).toBe(true);
      });

      it('ends a session once, and only for its own user', async () => {
        const userId = await t.createUser();
        const record = session(userId);
        await store.createSession(record);
        expect(await store.endSession(record.id, { reason: 'revoke', at: now, userId: await t.createUser() })).toBe(false);
        expect(await store.endSession(record.id, { reason: 'revoke', at: now + 1, userId })).toBe(true);
        expect(await store.endSession(record.id, { reason: 'again', at: now + 2 })).toBe(false);
        expect(await store.findSession(record.id)).toMatchObject({ endedAt: now + 1, endReason: 'revoke' });
        expect(await store.endSession(randomUUID(), { reason: 'x', at: now })).toBe(false);
      });

      it('ends every open session of a user in bulk, except the one kept', async () => {
        const userId = await t.createUser();
        const sessions = Array.from({ length: 5 }, () => session(userId));
        const bystander = session(await t.createUser());
        for (const s of [...sessions, bystander]) await store.createSession(s);
        await store.endSession(sessions[0].id, { reason: 'logout', at: now });
        expect(await store.endUserSessions(userId, { reason: 'invalidate', at: now + 1, except: sessions[1].id })).toBe(3);
        expect((await store.listOpenSessions(userId)).map((s) => s.id)).toEqual([sessions[1].id]);
        expect(await store.findSession(sessions[0].id)).toMatchObject({ endReason: 'logout' });
        expect(await store.findSession(bystander.id)).toMatchObject({ endedAt: null });
        expect(await store.endUserSessions(userId, { reason: 'invalidate', at: now + 2 })).toBe(1);
        expect(await store.listOpenSessions(userId)).toEqual([]);
      });
    });

    describe('refresh tokens', () => {
      it('stores a token and consumes it exactly once', async () => {
        const record = session(await t.createUser());
        await store.createSession(record);
        const token = refreshToken(record.id);
        await store.addRefreshToken(token);
        expect(await store.findRefreshToken(token.tokenHash)).toEqual(token);
        expect(await store.consumeRefreshToken(token.tokenHash, now + 1)).toBe(true);
        expect(await store.consumeRefreshToken(token.tokenHash, now + 2)).toBe(false);
        expect(await store.findRefreshToken(token.tokenHash)).toEqual({ ...token, usedAt: now + 1 });
        expect(await store.consumeRefreshToken('0'.repeat(64), now)).toBe(false);
        expect(await store.findRefreshToken('0'.repeat(64))).toBeNull();
      });

      it('lets exactly one of 20 concurrent consumers win', async () => {
        const record = session(await t.createUser());
        await store.createSession(record);
        const token = refreshToken(record.id);
        await store.addRefreshToken(token);
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.consumeRefreshToken(token.tokenHash, now + i)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('retires the unused tokens of one session only', async () => {
        const [a, b] = [session(await t.createUser()), session(await t.createUser())];
        for (const s of [a, b]) await store.createSession(s);
        const used = refreshToken(a.id, { usedAt: now - 1 });
        const unused = refreshToken(a.id);
        const other = refreshToken(b.id);
        for (const token of [used, unused, other]) await store.addRefreshToken(token);
        await store.retireRefreshTokens(a.id, now);
        expect(await store.findRefreshToken(used.tokenHash)).toMatchObject({ usedAt: now - 1 });
        expect(await store.findRefreshToken(unused.tokenHash)).toMatchObject({ usedAt: now });
        expect(await store.consumeRefreshToken(unused.tokenHash, now)).toBe(false);
        expect(await store.consumeRefreshToken(other.tokenHash, now)).toBe(true);
      });
    });

    describe('blocks and the epoch', () => {
      it('blocks and unblocks a user', async () => {
        const userId = await t.createUser();
        expect(await store.isBlocked(userId)).toBe(false);
        await store.setBlocked(userId, now);
        expect(await store.isBlocked(userId)).toBe(true);
        await store.setBlocked(userId, now + 1);
        expect(await store.isBlocked(userId)).toBe(true);
        await store.setBlocked(userId, null);
        expect(await store.isBlocked(userId)).toBe(false);
      });

      it('stores the time of the last credential proof (authTime) and updates it', async () => {
        const record = session(await t.createUser(), { authTime: now - 60_000 });
        await store.createSession(record);
        expect(await store.findSession(record.id)).toMatchObject({ authTime: now - 60_000 });
        await store.updateSession(record.id, { authTime: now });
        expect(await store.findSession(record.id)).toMatchObject({ authTime: now });
      });

      it('moves the revocation epoch', async () => {
        expect(typeof (await store.getEpoch())).toBe('number');
        await store.setEpoch(now);
        expect(await store.getEpoch()).toBe(now);
        await store.setEpoch(now + 1);
        expect(await store.getEpoch()).toBe(now + 1);
      });
    });

    describe('failed attempts', () => {
      const key = () => `k:${randomUUID().slice(0, 20)}`;

      it('counts failures under a key, reads and clears them', async () => {
        const k = key();
        expect(await store.getAttempts(k)).toBeNull();
        expect(await store.recordFailedAttempt(k, now, now - 1000)).toEqual({ key: k, failures: 1, firstAt: now, lastAt: now });
        expect(await store.recordFailedAttempt(k, now + 5, now - 1000)).toEqual({ key: k, failures: 2, firstAt: now, lastAt: now + 5 });
        expect(await store.getAttempts(k)).toEqual({ key: k, failures: 2, firstAt: now, lastAt: now + 5 });
        expect(await store.getAttempts(key())).toBeNull();
        await store.clearAttempts(k);
        expect(await store.getAttempts(k)).toBeNull();
        expect(await store.recordFailedAttempt(k, now + 9, now - 1000)).toMatchObject({ failures: 1, firstAt: now + 9 });
      });

      it('starts a series over once its first failure is older than the window', async () => {
        const k = key();
        await store.recordFailedAttempt(k, now - 5000, now - 10_000);
        await store.recordFailedAttempt(k, now - 4000, now - 10_000);
        expect(await store.recordFailedAttempt(k, now, now - 4500)).toEqual({ key: k, failures: 1, firstAt: now, lastAt: now });
        expect(await store.recordFailedAttempt(k, now + 1, now - 4500)).toMatchObject({ failures: 2, firstAt: now });
      });

      it('counts 20 parallel failures as 20, and keys apart', async () => {
        const [k, other] = [key(), key()];
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.recordFailedAttempt(k, now + i, now - 1000)));
        await store.recordFailedAttempt(other, now, now - 1000);
        expect(await store.getAttempts(k)).toMatchObject({ failures: 20 });
        expect(Math.max(...results.map((r) => r.failures))).toBe(20);
        expect(await store.getAttempts(other)).toMatchObject({ failures: 1 });
      });
    });

    describe('activity log', () => {
      const entry = (userId: UserId, at: number, type = 'login') => ({
        userId: String(userId),
        type,
        at,
        sessionId: randomUUID(),
        reason: null,
        ip: '203.0.113.7',
        userAgent: 'jest',
      });

      it('lists a user\'s entries newest first, later inserts first within one time, up to a limit', async () => {
        const [userId, other] = [await t.createUser(), await t.createUser()];
        const first = entry(userId, now - 2000);
        const tiedA = entry(userId, now - 1000, 'logout');
        const tiedB = entry(userId, now - 1000, 'login-failed');
        const newest = { ...entry(userId, now), reason: 'password-change', ip: null, userAgent: null, sessionId: null, type: 'invalidate' };
        for (const e of [first, tiedA, tiedB, newest, entry(other, now + 1)]) await store.addActivity(e);
        expect(await store.listActivity(userId, 10)).toEqual([newest, tiedB, tiedA, first]);
        expect(await store.listActivity(userId, 2)).toEqual([newest, tiedB]);
        expect(await store.listActivity(await t.createUser(), 10)).toEqual([]);
      });
    });

    describe('pruning', () => {
      const old = now - 3_600_000;
      const cutoff = { before: now - 60_000, lastSeenBefore: now - 60_000, attemptsBefore: now - 60_000, activityBefore: now - 60_000 };

      it('deletes sessions over since before the cutoff with their refresh tokens, and keeps the rest', async () => {
        const userId = await t.createUser();
        const ended = session(userId, { endedAt: old, endReason: 'logout' });
        const expired = session(userId, { expiresAt: old });
        const pastLifetime = session(userId, { absoluteExpiresAt: old });
        const idle = session(userId, { lastSeenAt: old });
        const recentlyEnded = session(userId, { endedAt: now - 1000, endReason: 'logout' });
        const live = session(userId);
        for (const s of [ended, expired, pastLifetime, idle, recentlyEnded, live]) await store.createSession(s);
        const ofEnded = [refreshToken(ended.id, { usedAt: old }), refreshToken(ended.id)];
        const usedOfLive = refreshToken(live.id, { usedAt: now - 1000 }); // reuse detection needs it
        const expiredOfLive = refreshToken(live.id, { usedAt: old, expiresAt: old });
        const ofRecent = refreshToken(recentlyEnded.id, { usedAt: now - 2000 });
        for (const token of [...ofEnded, usedOfLive, expiredOfLive, ofRecent]) await store.addRefreshToken(token);

        const counts = await store.prune(cutoff, 100);
        expect(counts).toMatchObject({ sessions: 4, refreshTokens: 1 });
        for (const s of [ended, expired, pastLifetime, idle]) expect(await store.findSession(s.id)).toBeNull();
        for (const s of [recentlyEnded, live]) expect(await store.findSession(s.id)).not.toBeNull();
        for (const token of [...ofEnded, expiredOfLive]) expect(await store.findRefreshToken(token.tokenHash)).toBeNull();
        for (const token of [usedOfLive, ofRecent]) expect(await store.findRefreshToken(token.tokenHash)).toEqual(token);
        expect(await store.prune(cutoff, 100)).toEqual({ sessions: 0, refreshTokens: 0, attempts: 0, activity: 0 });
      });

      it('deletes at most `limit` rows of a kind per batch', async () => {
        const userId = await t.createUser();
        const sessions = Array.from({ length: 5 }, () => session(userId, { endedAt: old, endReason: 'logout' }));
        for (const s of sessions) await store.createSession(s);
        expect((await store.prune(cutoff, 2)).sessions).toBe(2);
        expect((await store.prune(cutoff, 2)).sessions).toBe(2);
        expect((await store.prune(cutoff, 2)).sessions).toBe(1);
        for (const s of sessions) expect(await store.findSession(s.id)).toBeNull();
      });

      it('deletes stale attempt counters and old activity entries; keeps activity without a cutoff', async () => {
        const userId = await t.createUser();
        const [stale, fresh] = [`k:${randomUUID().slice(0, 20)}`, `k:${randomUUID().slice(0, 20)}`];
        await store.recordFailedAttempt(stale, old, 0);
        await store.recordFailedAttempt(fresh, now, 0);
        const oldEntry = { userId: String(userId), type: 'login', at: old, sessionId: null, reason: null, ip: null, userAgent: null };
        const newEntry = { ...oldEntry, at: now };
        await store.addActivity(oldEntry);
        await store.addActivity(newEntry);
        expect(await store.prune({ ...cutoff, activityBefore: undefined }, 100)).toMatchObject({ attempts: 1, activity: 0 });
        expect(await store.getAttempts(stale)).toBeNull();
        expect(await store.getAttempts(fresh)).not.toBeNull();
        expect(await store.listActivity(userId, 10)).toHaveLength(2);
        expect(await store.prune(cutoff, 100)).toMatchObject({ activity: 1 });
        expect(await store.listActivity(userId, 10)).toEqual([newEntry]);
      });
    });

    describe('exclusive runs', () => {
      it('runs one task of a name at a time, and again once it is done (or failed)', async () => {
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        const first = store.runExclusive('conformance', () => held);
        await new Promise((resolve) => setTimeout(resolve, 50));
        let ran = false;
        expect(await store.runExclusive('conformance', async () => void (ran = true))).toBe(false);
        expect(ran).toBe(false);
        release();
        expect(await first).toBe(true);
        await expect(store.runExclusive('conformance', async () => Promise.reject(new Error('task failed')))).rejects.toThrow('task failed');
        expect(await store.runExclusive('conformance', async () => void (ran = true))).toBe(true);
        expect(ran).toBe(true);
      });
    });
  });
}
