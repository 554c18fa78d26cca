import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  AuthSession,
  LoginAttempts,
  SESSION_REVOCATION_ENTITIES,
  TooManyAttemptsError,
  TypeOrmSessionStore,
  type IssuedTokens,
  type SessionEvent,
  type SessionRevocationModuleOptions,
} from '../lib/index.js';
import { testDatabases, type TestDatabase } from './support/databases.js';
import { sharedDatabases, startInstance, type Instance } from './support/scaling.js';
import { LastSeenWriter } from '../lib/core/last-seen-writer.js';
import { createTestApp, TestUser, type TestApp } from './support/test-app.js';

/**
 * The session policy on every database: the per-user limit under 20 parallel logins, the idle
 * timeout, step-up after a re-authentication made on another instance, failed-attempt counting
 * under parallel failures and across instances, pruning, the activity log, the advisory lock.
 */
describe.each(testDatabases())('session policy (%s)', (dbName, database) => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
  });
  const start = async (options: Partial<SessionRevocationModuleOptions>) => {
    const app = await createTestApp(database(), { options });
    apps.push(app);
    return app;
  };
  let n = 0;
  const newUser = async (t: TestApp) => (await t.dataSource.getRepository(TestUser).save({ email: `p${n++}-${Date.now()}@example.com`, passwordHash: 'h' })).id;
  const login = (t: TestApp, userId: number) => request(t.app.getHttpServer()).post(`/login/${userId}`);
  const get = (t: TestApp, path: string, token: string) => request(t.app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);

  describe('maxSessionsPerUser', () => {
    let evict: TestApp;
    let refuse: TestApp;
    beforeAll(async () => {
      evict = await start({ maxSessionsPerUser: 3 });
      refuse = await start({ maxSessionsPerUser: 3, sessionLimitPolicy: 'refuse' });
    });

    it('20 parallel logins of one user leave at most 3 live sessions; the others are refused or answer 401', async () => {
      const userId = await newUser(evict);
      const answers = await Promise.all(Array.from({ length: 20 }, () => login(evict, userId)));
      expect(answers.every((a) => a.status === 201 || a.status === 401)).toBe(true);
      const issued: IssuedTokens[] = answers.filter((a) => a.status === 201).map((a) => a.body);
      const me = await Promise.all(issued.map((tokens) => get(evict, '/me', tokens.accessToken)));
      const live = await evict.sessions.list(userId);
      expect(live.length).toBeGreaterThanOrEqual(1);
      expect(live.length).toBeLessThanOrEqual(3);
      expect(me.filter((r) => r.status === 200).length).toBe(live.length);
      const rows = await evict.dataSource.getRepository(AuthSession).findBy({ userId: String(userId) });
      expect(rows.filter((r) => r.endedAt === null)).toHaveLength(live.length);
      expect(rows.filter((r) => r.endedAt !== null).every((r) => r.endReason === 'session-limit')).toBe(true);
      process.stderr.write(`\nsession limit (${dbName}): 20 parallel logins → ${issued.length} answered 201, ${live.length} live\n`);
    });

    it('a fourth sequential login ends the oldest session (401 on its device), and refresh of it is refused', async () => {
      const userId = await newUser(evict);
      const sessions: IssuedTokens[] = [];
      for (let i = 0; i < 4; i++) sessions.push((await login(evict, userId).expect(201)).body);
      await get(evict, '/me', sessions[0].accessToken).expect(401).expect('WWW-Authenticate', 'Bearer error="invalid_token"');
      for (const s of sessions.slice(1)) await get(evict, '/me', s.accessToken).expect(200);
      await expect(evict.sessions.refresh(sessions[0].refreshToken)).rejects.toMatchObject({ status: 401 });
    });

    it("'refuse': 20 parallel logins past the limit leave the 3 sessions there were", async () => {
      const userId = await newUser(refuse);
      const kept: IssuedTokens[] = [];
      for (let i = 0; i < 3; i++) kept.push((await login(refuse, userId).expect(201)).body);
      const answers = await Promise.all(Array.from({ length: 20 }, () => login(refuse, userId)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(401));
      for (const s of kept) await get(refuse, '/me', s.accessToken).expect(200);
      expect((await refuse.sessions.list(userId)).map((s) => s.id).sort()).toEqual(kept.map((s) => s.sessionId).sort());
    });
  });

  describe('idleTimeout', () => {
    it('refuses requests and refreshes of a session idle for longer than the timeout (read from lastSeenAt)', async () => {
      const t = await start({ cache: false, idleTimeout: '10m', lastSeenInterval: '1m' });
      const userId = await newUser(t);
      const idle: IssuedTokens = (await login(t, userId).expect(201)).body;
      const active: IssuedTokens = (await login(t, userId).expect(201)).body;
      const sessions = t.dataSource.getRepository(AuthSession);
      await sessions.update({ id: idle.sessionId }, { lastSeenAt: Date.now() - 10 * 60_000 - 1 });
      await sessions.update({ id: active.sessionId }, { lastSeenAt: Date.now() - 9 * 60_000 });
      await get(t, '/me', idle.accessToken).expect(401).expect('WWW-Authenticate', 'Bearer error="invalid_token"');
      await expect(t.sessions.refresh(idle.refreshToken)).rejects.toMatchObject({ reason: 'idle' });
      await get(t, '/me', active.accessToken).expect(200);
      await t.app.get(LastSeenWriter).flush(); // lastSeenAt is written in batches, off the request path
      expect((await sessions.findOneByOrFail({ id: active.sessionId })).lastSeenAt).toBeGreaterThan(Date.now() - 60_000); // the request counted
    });
  });

  describe('step-up', () => {
    it('RequireFreshSession: 401 with the RFC 9470 challenge, 200 after reauthenticate()', async () => {
      const t = await start({});
      const userId = await newUser(t);
      await get(t, '/me/fresh', (await login(t, userId).expect(201)).body.accessToken).expect(200); // a login is fresh
      // A login 6 minutes ago (set before any request could cache the session):
      const issued: IssuedTokens = (await login(t, userId).expect(201)).body;
      await t.dataSource.getRepository(AuthSession).update({ id: issued.sessionId }, { authTime: Date.now() - 6 * 60_000 });
      const renewed = await t.sessions.refresh(issued.refreshToken); // new tokens carry the record's (old) auth_time
      const refused = await get(t, '/me/fresh', renewed.accessToken).expect(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer error="insufficient_user_authentication", max_age=300');
      expect(refused.body).toEqual({ statusCode: 401, message: 'Re-authentication required', error: 'Unauthorized' });
      await get(t, '/me', renewed.accessToken).expect(200); // the session itself is fine
      await t.sessions.reauthenticate(issued.sessionId, userId);
      const fresh = await get(t, '/me/fresh', renewed.accessToken).expect(200);
      expect(fresh.body.authTime).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
    });
  });

  describe('LoginAttempts', () => {
    it('20 parallel failures of one account count as 20: the back-off of the 20th applies (429 Retry-After on the next try)', async () => {
      const t = await start({ loginAttempts: { freeAttempts: 19 } });
      const attempts = t.app.get(LoginAttempts);
      const results = await Promise.all(Array.from({ length: 20 }, () => attempts.attempt({ account: `parallel-${dbName}@example.com`, ip: '203.0.113.20' }, async () => null)));
      expect(results).toEqual(Array(20).fill(null));
      const refused = await attempts.attempt({ account: `parallel-${dbName}@example.com` }, async () => 'user').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TooManyAttemptsError);
      expect(refused).toMatchObject({ retryAfterSeconds: 1, scope: 'account' });
    });
  });

  describe('prune and the activity log', () => {
    it('prune() deletes ended sessions with their refresh tokens and keeps reuse detection for live ones; activity lists the events', async () => {
      const t = await start({ audit: true });
      const events: SessionEvent[] = [];
      t.sessions.onEvent((e) => void events.push(e));
      const userId = await newUser(t);
      const ended = await t.sessions.issue(userId, { ip: '203.0.113.30', userAgent: 'jest' });
      await t.sessions.logout({ refreshToken: ended.refreshToken }, { ip: '203.0.113.30', userAgent: 'jest' });
      const live = await t.sessions.issue(userId);
      const next = await t.sessions.refresh(live.refreshToken);
      const sessions = t.dataSource.getRepository(AuthSession);
      await sessions.update({ id: ended.sessionId }, { endedAt: Date.now() - 31 * 86_400_000 });
      const counts = await t.sessions.prune({ olderThan: '30d' });
      expect(counts.sessions).toBe(1);
      expect(await sessions.findOneBy({ id: ended.sessionId })).toBeNull();
      await expect(t.sessions.refresh(ended.refreshToken)).rejects.toMatchObject({ reason: 'unknown' });
      await expect(t.sessions.refresh(live.refreshToken)).rejects.toMatchObject({ reason: 'reused' });
      await expect(t.sessions.refresh(next.refreshToken)).rejects.toMatchObject({ status: 401 }); // the family ended
      const activity = await t.sessions.activity(userId);
      expect(activity.map((a) => a.type)).toEqual(['reuse-detected', 'login', 'logout', 'login']);
      expect(activity[2]).toMatchObject({ sessionId: ended.sessionId, ip: '203.0.113.30', userAgent: 'jest', reason: 'logout' });
    });
  });
});

describe.each(testDatabases().filter(([name]) => name !== 'sqlite'))('advisory lock across DataSources (%s)', (_name, database) => {
  let db: TestDatabase;
  const sources: DataSource[] = [];
  afterAll(async () => {
    for (const source of sources) if (source.isInitialized) await source.destroy();
    await db?.cleanup();
  });

  it('runs a periodic job on one instance at a time', async () => {
    db = database();
    const options = await db.options([TestUser, ...SESSION_REVOCATION_ENTITIES]);
    for (const synchronize of [true, false]) {
      const source = new DataSource({ ...options, synchronize } as any);
      await source.initialize();
      sources.push(source);
    }
    const [a, b] = sources.map((source) => new TypeOrmSessionStore(source, TestUser));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = a.runExclusive('prune', () => held);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await b.runExclusive('prune', async () => undefined)).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(await b.runExclusive('prune', async () => undefined)).toBe(true);
  });
});

describe.each(sharedDatabases())('session policy across two instances (%s)', (_name, shared) => {
  let a: Instance;
  let b: Instance;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const db = await shared();
    cleanup = () => db.cleanup();
    // No bus: instance B learns nothing from A but what is in the database.
    a = await startInstance(db.options(true), { loginAttempts: { freeAttempts: 9 } });
    b = await startInstance(db.options(false), { loginAttempts: { freeAttempts: 9 } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cleanup?.();
  });

  it('a re-authentication on instance A is honoured at once by instance B, which had just refused the session', async () => {
    const user = await a.dataSource.getRepository(TestUser).save({ email: `two-${Date.now()}@example.com`, passwordHash: 'h' });
    const issued: IssuedTokens = (await request(a.server).post(`/login/${user.id}`).expect(201)).body;
    // A login 10 minutes ago: the record says so, and so does the token a refresh mints from it.
    await a.dataSource.getRepository(AuthSession).update({ id: issued.sessionId }, { authTime: Date.now() - 10 * 60_000 });
    const renewed = await a.sessions.refresh(issued.refreshToken);
    const sensitive = () => request(b.server).get('/me/fresh').set('Authorization', `Bearer ${renewed.accessToken}`);
    await sensitive().expect(401).expect('WWW-Authenticate', 'Bearer error="insufficient_user_authentication", max_age=300');
    await a.sessions.reauthenticate(issued.sessionId, user.id); // no bus: B's cache still holds the old authTime
    await sensitive().expect(200);
    const next = await b.sessions.refresh(renewed.refreshToken);
    const claims = JSON.parse(Buffer.from(next.accessToken.split('.')[1], 'base64url').toString());
    expect(claims.auth_time).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
  });

  it('failed attempts add up across instances: 5 on A and 5 on B, in parallel, back the account off on both', async () => {
    const attempt = { account: `across-${Date.now()}@example.com` };
    const fail = (instance: Instance) => instance.app.get(LoginAttempts).attempt(attempt, async () => null);
    await Promise.all([...Array.from({ length: 5 }, () => fail(a)), ...Array.from({ length: 5 }, () => fail(b))]);
    for (const instance of [a, b]) {
      await expect(instance.app.get(LoginAttempts).assertAllowed(attempt)).rejects.toMatchObject({ status: 429, scope: 'account' });
    }
  });
});
