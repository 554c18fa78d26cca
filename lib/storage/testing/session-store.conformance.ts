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

      it('moves the revocation epoch', async () => {
        expect(typeof (await store.getEpoch())).toBe('number');
        await store.setEpoch(now);
        expect(await store.getEpoch()).toBe(now);
        await store.setEpoch(now + 1);
        expect(await store.getEpoch()).toBe(now + 1);
      });
    });
  });
}
