import { firstValueFrom, timeout } from 'rxjs';
import request from 'supertest';
import type { SessionEvent } from '../lib/index.js';
import { SessionStore } from '../lib/storage/session-store.interface.js';
import { testDatabases } from './support/databases.js';
import { hmacJwt } from './support/security.js';
import { createTestApp, TestUser, type TestApp } from './support/test-app.js';

const SECRET = 'lifecycle-secret-that-is-long-enough-42';

describe.each(testDatabases())('session lifecycle (%s)', (_name, database) => {
  let t: TestApp;
  let server: any;
  const events: SessionEvent[] = [];

  beforeAll(async () => {
    t = await createTestApp(database(), { options: { jwt: { secret: SECRET, accessTtl: '5m', clockToleranceSeconds: 0 } } });
    server = t.app.getHttpServer();
    t.sessions.onEvent((e) => {
      events.push(e);
    });
  });
  afterAll(() => t?.close());

  let n = 0;
  const newUser = () => t.dataSource.getRepository(TestUser).save({ email: `l${n++}@example.com`, passwordHash: 'h' });
  const me = (token: string) => request(server).get('/me').set('Authorization', `Bearer ${token}`);
  const flush = () => new Promise((r) => setImmediate(r));

  it('rotates refresh tokens: the new pair works, the old refresh token is single-use', async () => {
    const user = await newUser();
    const first = await t.sessions.issue(user.id);
    const second = await t.sessions.refresh(first.refreshToken);
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    await me(second.accessToken).expect(200);
    await expect(t.sessions.refresh(first.refreshToken)).rejects.toMatchObject({ status: 401 });
  });

  it('mints a distinct access token every time, with a jti (RFC 9068), even within one second', async () => {
    const user = await newUser();
    const first = await t.sessions.issue(user.id);
    const tokens = [first.accessToken, (await t.sessions.renew(user.id, first.sessionId)).accessToken, (await t.sessions.renew(user.id, first.sessionId)).accessToken];
    expect(new Set(tokens).size).toBe(3);
    const jtis = tokens.map((token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti);
    expect(jtis.every((jti) => typeof jti === 'string' && jti.length >= 32)).toBe(true);
  });

  it('ends the whole family when a used refresh token comes back (reuse detection)', async () => {
    const user = await newUser();
    const first = await t.sessions.issue(user.id);
    const second = await t.sessions.refresh(first.refreshToken);
    await expect(t.sessions.refresh(first.refreshToken)).rejects.toMatchObject({ status: 401 });
    await flush();
    expect(events).toContainEqual(expect.objectContaining({ type: 'reuse-detected', sessionId: first.sessionId, userId: user.id }));
    await me(second.accessToken).expect(401);
    await expect(t.sessions.refresh(second.refreshToken)).rejects.toMatchObject({ status: 401 });
  });

  it('lets exactly one of 20 parallel refreshes of one token consume it, and leaves at most one live successor', async () => {
    const user = await newUser();
    const { refreshToken } = await t.sessions.issue(user.id);
    const store = t.app.get<SessionStore>(SessionStore, { strict: false });
    const consume = store.consumeRefreshToken.bind(store);
    let wins = 0;
    store.consumeRefreshToken = async (...args) => ((await consume(...args)) ? (wins++, true) : false);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => t.sessions.refresh(refreshToken))).finally(
      () => (store.consumeRefreshToken = consume),
    );
    expect(wins).toBe(1); // the atomic compare-and-set
    // The winner returns tokens unless a loser's reuse detection ended the family first.
    const won = results.filter((r): r is PromiseFulfilledResult<any> => r.status === 'fulfilled');
    expect(won.length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason?.status === 401)).toBe(true);
    const live = [];
    for (const w of won) {
      try {
        live.push(await t.sessions.refresh(w.value.refreshToken));
      } catch {
        /* family ended by the losers' reuse: allowed */
      }
    }
    expect(live.length).toBeLessThanOrEqual(1);
  });

  it('refuses an access token as a refresh token and a refresh token as an access token', async () => {
    const user = await newUser();
    const tokens = await t.sessions.issue(user.id);
    await expect(t.sessions.refresh(tokens.accessToken)).rejects.toMatchObject({ status: 401 });
    await me(tokens.refreshToken).expect(401);
    await me(tokens.accessToken).expect(200);
  });

  it('stores refresh tokens only as hashes', async () => {
    const user = await newUser();
    const { refreshToken } = await t.sessions.issue(user.id);
    const rows = await t.dataSource.query('SELECT * FROM auth_refresh_tokens');
    expect(JSON.stringify(rows)).not.toContain(refreshToken);
  });

  it('keeps exactly the current session with invalidateSessions({ except })', async () => {
    const user = await newUser();
    const a = await t.sessions.issue(user.id);
    const b = await t.sessions.issue(user.id);
    const c = await t.sessions.issue(user.id);
    expect(await t.sessions.invalidateSessions(user.id, { except: a.sessionId, reason: 'logout-others' })).toBe(2);
    await me(a.accessToken).expect(200);
    await me(b.accessToken).expect(401);
    await me(c.accessToken).expect(401);
    await expect(t.sessions.refresh(b.refreshToken)).rejects.toMatchObject({ status: 401 });
    expect((await t.sessions.list(user.id, a.sessionId)).map((s) => [s.id, s.current])).toEqual([[a.sessionId, true]]);
  });

  it('renews the caller after a password change while every other session ends', async () => {
    const user = await newUser();
    const a = await t.sessions.issue(user.id);
    const b = await t.sessions.issue(user.id);
    await t.dataSource.getRepository(TestUser).update(user.id, { passwordHash: 'changed' });
    await me(a.accessToken).expect(401);
    const renewed = await t.sessions.renew(user.id, a.sessionId);
    await me(renewed.accessToken).expect(200);
    await me(b.accessToken).expect(401);
    // No invalidateSessions call: the stale fingerprint alone stops b from refreshing.
    await expect(t.sessions.refresh(b.refreshToken)).rejects.toMatchObject({ status: 401 });
    const next = await t.sessions.refresh(renewed.refreshToken);
    await me(next.accessToken).expect(200);
  });

  it('lists sessions and revokes one; another user cannot revoke it', async () => {
    const user = await newUser();
    const other = await newUser();
    const a = await t.sessions.issue(user.id, { userAgent: 'phone', ip: '10.0.0.1' });
    const b = await t.sessions.issue(user.id, { userAgent: 'laptop' });
    const list = await t.sessions.list(user.id, a.sessionId);
    expect(list).toHaveLength(2);
    expect(list.find((s) => s.id === a.sessionId)).toMatchObject({ current: true, userAgent: 'phone', ip: '10.0.0.1' });
    expect(await t.sessions.revokeSession(other.id, b.sessionId)).toBe(false);
    await me(b.accessToken).expect(200);
    expect(await t.sessions.revokeSession(user.id, b.sessionId)).toBe(true);
    await me(b.accessToken).expect(401);
    await expect(t.sessions.refresh(b.refreshToken)).rejects.toMatchObject({ status: 401 });
    await me(a.accessToken).expect(200);
  });

  it('lists no session that a password change by another path ended, except the caller\'s own until it renews', async () => {
    const user = await newUser();
    const a = await t.sessions.issue(user.id);
    const b = await t.sessions.issue(user.id);
    expect((await t.sessions.list(user.id)).map((s) => s.id).sort()).toEqual([a.sessionId, b.sessionId].sort());
    await t.dataSource.getRepository(TestUser).update(user.id, { passwordHash: 'changed-by-an-admin' });
    expect(await t.sessions.list(user.id)).toEqual([]);
    expect((await t.sessions.list(user.id, a.sessionId)).map((s) => s.id)).toEqual([a.sessionId]);
    await t.sessions.renew(user.id, a.sessionId);
    expect((await t.sessions.list(user.id)).map((s) => s.id)).toEqual([a.sessionId]);
  });

  it('logs out by refresh token, by expired access token, and ignores garbage', async () => {
    const user = await newUser();
    const a = await t.sessions.issue(user.id);
    expect(await t.sessions.logout({ refreshToken: a.refreshToken })).toBe(a.sessionId);
    await me(a.accessToken).expect(401);
    const b = await t.sessions.issue(user.id);
    // The same claims, signed with the real key, expired a minute ago.
    const claims = JSON.parse(Buffer.from(b.accessToken.split('.')[1], 'base64url').toString());
    const now = Math.floor(Date.now() / 1000);
    const expired = hmacJwt('HS256', { alg: 'HS256', typ: 'at+jwt' }, { ...claims, iat: now - 120, exp: now - 60 }, SECRET);
    await me(expired).expect(401);
    await me(b.accessToken).expect(200);
    expect(await t.sessions.logout({ accessToken: expired })).toBe(b.sessionId);
    await me(b.accessToken).expect(401);
    await expect(t.sessions.refresh(b.refreshToken)).rejects.toMatchObject({ status: 401 });
    expect(await t.sessions.logout({ accessToken: 'garbage', refreshToken: 'garbage' })).toBeUndefined();
    expect(await t.sessions.logout({})).toBeUndefined();
  });

  it('blocks a user: live tokens, refresh and login are refused until unblocked', async () => {
    const user = await newUser();
    const a = await t.sessions.issue(user.id);
    await t.sessions.blockUser(user.id);
    await me(a.accessToken).expect(401);
    await expect(t.sessions.refresh(a.refreshToken)).rejects.toMatchObject({ status: 401 });
    await expect(t.sessions.issue(user.id)).rejects.toMatchObject({ status: 401 });
    await t.sessions.unblockUser(user.id);
    const b = await t.sessions.issue(user.id);
    await me(b.accessToken).expect(200);
    await flush();
    expect(events.filter((e) => e.userId === user.id).map((e) => e.type)).toEqual(['login', 'block', 'unblock', 'login']);
  });

  it('ends every session of every user with one write', async () => {
    const u1 = await newUser();
    const u2 = await newUser();
    const a = await t.sessions.issue(u1.id);
    const b = await t.sessions.issue(u2.id);
    await new Promise((r) => setTimeout(r, 5));
    await t.sessions.invalidateAllSessions();
    await me(a.accessToken).expect(401);
    await me(b.accessToken).expect(401);
    await expect(t.sessions.refresh(b.refreshToken)).rejects.toMatchObject({ status: 401 });
    await new Promise((r) => setTimeout(r, 5));
    const fresh = await t.sessions.issue(u1.id);
    await me(fresh.accessToken).expect(200);
  });

  it('watch() tells a session when it ends, and not before', async () => {
    const user = await newUser();
    const a = await t.sessions.issue(user.id);
    const b = await t.sessions.issue(user.id);
    let ended: unknown;
    const sub = t.sessions.watch(b.accessToken).subscribe((e) => (ended = e));
    await t.sessions.revokeSession(user.id, a.sessionId);
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toBeUndefined();
    const done = firstValueFrom(t.sessions.watch(a.accessToken).pipe(timeout(1000)));
    await expect(done).resolves.toMatchObject({ sessionId: a.sessionId });
    await t.dataSource.getRepository(TestUser).update(user.id, { passwordHash: 'rotated-by-orm' });
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toMatchObject({ sessionId: b.sessionId });
    sub.unsubscribe();
  });
});
