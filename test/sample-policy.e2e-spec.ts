import request from 'supertest';
import { AuthSession } from '../lib/index.js';
import { DEFAULT_MAX_SESSIONS_PER_USER, loadConfig } from '../sample/config.js';
import { testDatabases } from './support/databases.js';
import { sampleClient, startSample, type SampleApp, type Tokens } from './support/sample-app.js';
import { captureLogs, type LogCapture } from './support/security.js';

const STEP_UP = 'Bearer error="insufficient_user_authentication", max_age=300';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The sample's session policy routes: re-authentication, account deletion behind a fresh
 * session, the activity log, the per-account back-off on every password check, and the
 * per-user session limit (MAX_SESSIONS_PER_USER, default 10).
 */
describe.each(testDatabases())('sample app: session policy (%s)', (_name, database) => {
  let s: SampleApp;
  let api: ReturnType<typeof sampleClient>;
  let logs: LogCapture;

  beforeAll(async () => {
    logs = captureLogs();
    s = await startSample(database(), { logger: logs.logger });
    api = sampleClient(s.server);
  });
  afterAll(async () => {
    await s?.close();
    logs?.stop();
  });

  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const reauthenticate = (token: string, password: unknown) => request(s.server).post('/auth/reauthenticate').set(as(token)).send({ password });
  const deleteMe = (token: string) => request(s.server).delete('/me').set(as(token)).send({});
  const activity = (token: string) => request(s.server).get('/me/activity').set(as(token));
  /** Makes a session look as if its login was `minutes` ago (and mints a token that says so). */
  const ageSession = async (tokens: Tokens, minutes: number): Promise<Tokens> => {
    await s.dataSource.getRepository(AuthSession).update({ id: tokens.sessionId }, { authTime: Date.now() - minutes * 60_000 });
    return (await api.refresh(tokens.refreshToken).expect(200)).body;
  };

  describe('POST /auth/reauthenticate and DELETE /me', () => {
    it('reauthenticate: 200 {authTime} for the right password, 401 for a wrong one or without a session, 400 for bad input', async () => {
      const user = await api.newUser();
      const res = await reauthenticate(user.tokens.accessToken, user.password).expect(200);
      expect(res.body).toEqual({ authTime: expect.any(String) });
      expect(Math.abs(Date.parse(res.body.authTime) - Date.now())).toBeLessThan(60_000);
      expect(res.headers['cache-control']).toBe('no-store');
      const wrong = await reauthenticate(user.tokens.accessToken, 'not-my-password').expect(401);
      expect(wrong.headers['www-authenticate']).toBeUndefined(); // the session is fine, the password is not
      await request(s.server).post('/auth/reauthenticate').send({ password: user.password }).expect(401);
      await reauthenticate(user.tokens.accessToken, 42).expect(400);
      await reauthenticate(user.tokens.accessToken, '').expect(400);
      await api.me(user.tokens.accessToken).expect(200);
    });

    it('DELETE /me on a fresh session: 204, the account and every session are gone', async () => {
      const user = await api.newUser();
      const other = await api.loginOk(user.email, user.password, 'other device');
      const res = await deleteMe(user.tokens.accessToken).expect(204);
      expect(res.headers['clear-site-data']).toBeDefined();
      for (const tokens of [user.tokens, other]) await api.me(tokens.accessToken).expect(401);
      await api.refresh(other.refreshToken).expect(401);
      await api.login(user.email, user.password).expect(401);
    });

    it('DELETE /me on a session older than 5 minutes: 401 with the RFC 9470 challenge; after reauthenticate, 204', async () => {
      const user = await api.newUser();
      const aged = await ageSession(user.tokens, 6);
      const refused = await deleteMe(aged.accessToken).expect(401);
      expect(refused.headers['www-authenticate']).toBe(STEP_UP);
      await api.me(aged.accessToken).expect(200); // nothing was deleted
      await reauthenticate(aged.accessToken, user.password).expect(200);
      await deleteMe(aged.accessToken).expect(204);
      await api.login(user.email, user.password).expect(401);
    });

    it('a re-authentication 4 minutes ago still counts, 6 minutes ago no longer', async () => {
      const user = await api.newUser();
      await deleteMe((await ageSession(user.tokens, 6)).accessToken).expect(401);
      const fourMinutes = await ageSession((await api.loginOk(user.email, user.password)), 4);
      await deleteMe(fourMinutes.accessToken).expect(204);
    });
  });

  describe('GET /me/activity', () => {
    it('lists sign-ins, failed sign-ins, password changes and devices signed out, newest first, with this device marked', async () => {
      const user = await api.newUser('correct-horse-1', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
      await api.login(user.email, 'wrong-password-1').expect(401);
      const other = await api.loginOk(user.email, user.password, 'other device');
      const changed = await request(s.server)
        .post('/auth/password')
        .set(as(user.tokens.accessToken))
        .send({ currentPassword: user.password, newPassword: 'correct-horse-2' })
        .expect(200);
      const res = await activity(changed.body.accessToken).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.map((e: { type: string; reason: string | null }) => [e.type, e.reason])).toEqual([
        ['invalidate', 'password-change'],
        ['login', null],
        ['login-failed', 'failures=1'],
        ['login', null],
      ]);
      expect(res.body[3]).toEqual({
        type: 'login',
        at: expect.any(String),
        ip: expect.any(String),
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
        sessionId: user.tokens.sessionId,
        current: true,
        reason: null,
      });
      expect(res.body[1]).toMatchObject({ sessionId: other.sessionId, current: false, userAgent: 'other device' });
      const times = res.body.map((e: { at: string }) => Date.parse(e.at));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      const text = JSON.stringify(res.body);
      for (const secret of [user.tokens.accessToken, user.tokens.refreshToken, other.refreshToken, user.password]) expect(text).not.toContain(secret);
      await activity('not-a-token').expect(401);
    });

    it('answers at most 50 entries', async () => {
      const user = await api.newUser();
      for (let i = 0; i < 52; i++) await api.loginOk(user.email, user.password);
      const res = await activity(user.tokens.accessToken);
      // The first session was evicted by the session limit long ago: ask from the newest one.
      const newest = await api.loginOk(user.email, user.password);
      const list = (await activity(newest.accessToken).expect(200)).body;
      expect(res.status).toBe(401);
      expect(list).toHaveLength(50);
      expect(list.filter((e: { type: string }) => e.type === 'session-limit').length).toBeGreaterThan(0);
    });
  });

  describe('failed-password back-off (per account)', () => {
    it('POST /auth/login: three free failures, then 429 with Retry-After; the right password works once the wait is over', async () => {
      const user = await api.newUser();
      for (let i = 0; i < 4; i++) await api.login(user.email, `wrong-password-${i}`).expect(401);
      const limited = await api.login(user.email, user.password).expect(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.body).toEqual({ statusCode: 429, message: 'Too many failed attempts: try again in 1 s', error: 'Too Many Requests' });
      await sleep(1100);
      await api.login(user.email, user.password).expect(200);
      for (let i = 0; i < 4; i++) await api.login(user.email, `wrong-password-${i}`).expect(401); // the success cleared the count
    });

    it('logs every failure as session.login-failed, never with the password', async () => {
      const user = await api.newUser();
      await api.login(user.email, 'hunter2-the-wrong-one').expect(401);
      await api.login('nobody-at-all@example.com', 'hunter2-for-nobody').expect(401);
      const lines = logs.all().filter((line) => line.includes('session.login-failed'));
      expect(lines.some((line) => line.includes(`user=${user.id}`))).toBe(true);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(logs.all().some((line) => line.includes('hunter2'))).toBe(false);
    });

    it('wrong current passwords on /auth/password, PATCH /me and /auth/reauthenticate share the account\'s back-off', async () => {
      const user = await api.newUser();
      const token = user.tokens.accessToken;
      await request(s.server).post('/auth/password').set(as(token)).send({ currentPassword: 'wrong-1', newPassword: 'correct-horse-9' }).expect(403);
      await request(s.server).patch('/me').set(as(token)).send({ email: 'x-' + user.email, currentPassword: 'wrong-2' }).expect(403);
      await reauthenticate(token, 'wrong-3').expect(401);
      await reauthenticate(token, 'wrong-4').expect(401);
      const limited = await request(s.server).post('/auth/password').set(as(token)).send({ currentPassword: user.password, newPassword: 'correct-horse-9' }).expect(429);
      expect(limited.headers['retry-after']).toBe('1');
      await api.login(user.email, user.password).expect(429); // the same account
      await api.me(token).expect(200); // the session stays: throttled, not ended
      await sleep(1100);
      await reauthenticate(token, user.password).expect(200);
    });

    it('20 parallel wrong passwords all count: the next try waits for the back-off of the 20th', async () => {
      const user = await api.newUser();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => api.login(user.email, `wrong-${i}`)));
      const statuses = answers.map((a) => a.status);
      expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
      // Every 401 was a failure that got counted: the wait is that of the last of them (1 s doubling after 3, at most 15 min).
      const failures = statuses.filter((x) => x === 401).length;
      const expected = Math.min(900, 2 ** (failures - 4));
      const limited = await api.login(user.email, user.password).expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(expected - 2);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(expected);
    });
  });

  describe('MAX_SESSIONS_PER_USER', () => {
    it(`defaults to ${DEFAULT_MAX_SESSIONS_PER_USER}: the 11th login ends the oldest session`, async () => {
      const user = await api.newUser();
      const later: Tokens[] = [];
      for (let i = 0; i < DEFAULT_MAX_SESSIONS_PER_USER; i++) later.push(await api.loginOk(user.email, user.password));
      await api.me(user.tokens.accessToken).expect(401);
      for (const tokens of later) await api.me(tokens.accessToken).expect(200);
      expect((await api.sessions(later[0].accessToken).expect(200)).body).toHaveLength(DEFAULT_MAX_SESSIONS_PER_USER);
    });
  });
});

describe('sample config: MAX_SESSIONS_PER_USER', () => {
  const env = { JWT_SECRET: 'sample-config-secret-that-is-long-enough-0123', DATABASE_URL: 'postgres://localhost/none' };
  it('defaults to 10, takes 1 to 1000, refuses anything else', () => {
    expect(loadConfig(env).maxSessionsPerUser).toBe(10);
    expect(loadConfig({ ...env, MAX_SESSIONS_PER_USER: '3' }).maxSessionsPerUser).toBe(3);
    for (const bad of ['0', '-1', '2.5', 'ten', '1001']) expect(() => loadConfig({ ...env, MAX_SESSIONS_PER_USER: bad })).toThrow(/MAX_SESSIONS_PER_USER must be an integer from 1 to 1000/);
  });
});
