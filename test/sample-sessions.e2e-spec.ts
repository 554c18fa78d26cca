import request from 'supertest';
import { testDatabases } from './support/databases.js';
import { ADMIN, sampleClient, startSample, type SampleApp, type Tokens } from './support/sample-app.js';

const INVALID_TOKEN = 'Bearer error="invalid_token"';
/** The sample's cache TTL without a bus (SQLite): the bound for writes the app cannot see. */
const STALENESS_BOUND_MS = 5000;

describe.each(testDatabases())('sample app: devices, logout everywhere, admin (%s)', (name, database) => {
  let s: SampleApp;
  let api: ReturnType<typeof sampleClient>;
  let admin: Tokens;

  beforeAll(async () => {
    s = await startSample(database());
    api = sampleClient(s.server);
    admin = await api.loginOk(ADMIN.email, ADMIN.password);
  });
  afterAll(() => s?.close());

  const expectRefused = async (accessToken: string) => {
    const res = await api.me(accessToken).expect(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
  };
  const expectDead = async (tokens: Tokens) => {
    await expectRefused(tokens.accessToken);
    await api.refresh(tokens.refreshToken).expect(401);
  };
  const logoutAll = (accessToken: string, body: object = {}) => request(s.server).post('/auth/logout-all').set(api.bearer(accessToken)).send(body);
  const adminAction = (token: string, userId: number | string, action: string) =>
    request(s.server).post(`/admin/users/${userId}/${action}`).set(api.bearer(token));

  describe('device list', () => {
    it('lists live sessions with the current one marked', async () => {
      const { email, password, tokens: first } = await api.newUser('correct-horse-1', 'Phone/1.0');
      const laptop = await api.loginOk(email, password, 'Laptop/2.0');

      const res = await api.sessions(laptop.accessToken).expect(200);
      expect(res.body).toHaveLength(2);
      const byId = new Map(res.body.map((x: { id: string }) => [x.id, x]));
      expect(byId.get(laptop.sessionId)).toEqual({
        id: laptop.sessionId,
        current: true,
        userAgent: 'Laptop/2.0',
        ip: expect.any(String),
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        lastSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(byId.get(first.sessionId)).toMatchObject({ current: false, userAgent: 'Phone/1.0' });

      const fromPhone = await api.sessions(first.accessToken).expect(200);
      expect(fromPhone.body.find((x: { current: boolean }) => x.current).id).toBe(first.sessionId);
    });

    it('DELETE /sessions/:id ends the other device at once; 404 when it is already over', async () => {
      const { email, password, tokens: phone } = await api.newUser('correct-horse-1', 'Phone');
      const laptop = await api.loginOk(email, password, 'Laptop');
      await api.me(phone.accessToken).expect(200);

      await request(s.server).delete(`/sessions/${phone.sessionId}`).set(api.bearer(laptop.accessToken)).expect(204);
      await expectDead(phone);
      await api.me(laptop.accessToken).expect(200);
      const list = await api.sessions(laptop.accessToken).expect(200);
      expect(list.body.map((x: { id: string }) => x.id)).toEqual([laptop.sessionId]);

      await request(s.server).delete(`/sessions/${phone.sessionId}`).set(api.bearer(laptop.accessToken)).expect(404);
    });

    it("answers 404 for another user's session and leaves it alone", async () => {
      const alice = await api.newUser();
      const bob = await api.newUser();
      const res = await request(s.server).delete(`/sessions/${bob.tokens.sessionId}`).set(api.bearer(alice.tokens.accessToken)).expect(404);
      expect(res.body).toMatchObject({ statusCode: 404 });
      await api.me(bob.tokens.accessToken).expect(200);
      await api.refresh(bob.tokens.refreshToken).expect(200);
    });

    it('answers 404 for an unknown id, 400 for a malformed one, 401 without a session', async () => {
      const { tokens } = await api.newUser();
      await request(s.server).delete('/sessions/6f1c1c43-6c1a-4c8e-9a43-2f3f1b5a9d10').set(api.bearer(tokens.accessToken)).expect(404);
      for (const bad of ['not-a-uuid', '1', `${'a'.repeat(300)}`, "1' OR '1'='1"]) {
        await request(s.server).delete(`/sessions/${encodeURIComponent(bad)}`).set(api.bearer(tokens.accessToken)).expect(400);
      }
      await request(s.server).delete(`/sessions/${tokens.sessionId}`).expect(401);
      await api.me(tokens.accessToken).expect(200);
    });

    it('can end the current session too', async () => {
      const { tokens } = await api.newUser();
      await request(s.server).delete(`/sessions/${tokens.sessionId}`).set(api.bearer(tokens.accessToken)).expect(204);
      await expectDead(tokens);
    });
  });

  describe('logout everywhere', () => {
    it('ends every session of the caller, its own included', async () => {
      const { email, password, tokens: a } = await api.newUser();
      const b = await api.loginOk(email, password);
      const stranger = await api.newUser();

      await logoutAll(a.accessToken).expect(204);
      await expectDead(a);
      await expectDead(b);
      await api.me(stranger.tokens.accessToken).expect(200);
      // A fresh login works.
      const again = await api.loginOk(email, password);
      await api.me(again.accessToken).expect(200);
    });

    it('keepCurrent: true ends only the other sessions', async () => {
      const { email, password, tokens: a } = await api.newUser();
      const b = await api.loginOk(email, password);
      const c = await api.loginOk(email, password);

      await logoutAll(a.accessToken, { keepCurrent: true }).expect(204);
      await expectDead(b);
      await expectDead(c);
      await api.me(a.accessToken).expect(200);
      const list = await api.sessions(a.accessToken).expect(200);
      expect(list.body).toEqual([expect.objectContaining({ id: a.sessionId, current: true })]);
      const a2 = (await api.refresh(a.refreshToken).expect(200)).body as Tokens;
      await api.me(a2.accessToken).expect(200);
    });

    it('keepCurrent: false is the same as no flag', async () => {
      const { tokens } = await api.newUser();
      await logoutAll(tokens.accessToken, { keepCurrent: false }).expect(204);
      await expectDead(tokens);
    });

    it('validates the body (400) and requires a session (401)', async () => {
      const { tokens } = await api.newUser();
      await logoutAll(tokens.accessToken, { keepCurrent: 'yes' }).expect(400);
      await logoutAll(tokens.accessToken, { keepCurrent: 1 }).expect(400);
      await logoutAll(tokens.accessToken, { everyone: true }).expect(400);
      await api.me(tokens.accessToken).expect(200);
      await request(s.server).post('/auth/logout-all').send({}).expect(401);
    });
  });

  describe('admin', () => {
    it('blocks a user: live tokens, refresh and login are refused; unblocking lets them log in again', async () => {
      const { id, email, password, tokens } = await api.newUser();
      const second = await api.loginOk(email, password);
      await api.me(tokens.accessToken).expect(200);

      await adminAction(admin.accessToken, id, 'block').expect(204);
      await expectRefused(tokens.accessToken);
      await api.refresh(tokens.refreshToken).expect(401);
      await api.refresh(second.refreshToken).expect(401);
      const blocked = await api.login(email, password).expect(401);
      const wrong = await api.login(email, 'not-the-password').expect(401);
      expect(blocked.body).toEqual(wrong.body);

      await adminAction(admin.accessToken, id, 'unblock').expect(204);
      const fresh = await api.loginOk(email, password);
      await api.me(fresh.accessToken).expect(200);
      // Sessions ended by the block stay ended.
      await expectDead(second);
    });

    it('revoke-sessions ends every session of the user, who can log in again', async () => {
      const { id, email, password, tokens } = await api.newUser();
      const second = await api.loginOk(email, password);
      await adminAction(admin.accessToken, id, 'revoke-sessions').expect(204);
      await expectDead(tokens);
      await expectDead(second);
      await api.me(admin.accessToken).expect(200);
      await api.loginOk(email, password);
    });

    it('answers 403 to non-admins and changes nothing', async () => {
      const victim = await api.newUser();
      const mallory = await api.newUser();
      for (const action of ['block', 'unblock', 'revoke-sessions']) {
        const res = await adminAction(mallory.tokens.accessToken, victim.id, action).expect(403);
        expect(res.body).toMatchObject({ statusCode: 403 });
        await adminAction(mallory.tokens.accessToken, mallory.id, action).expect(403);
      }
      await api.me(victim.tokens.accessToken).expect(200);
      await api.login(victim.email, victim.password).expect(200);
    });

    it('reads the role from the database on every request', async () => {
      const promoted = await api.newUser();
      const target = await api.newUser();
      await adminAction(promoted.tokens.accessToken, target.id, 'revoke-sessions').expect(403);
      await s.dataSource.query(`UPDATE users SET role = 'admin' WHERE id = ${promoted.id}`);
      await adminAction(promoted.tokens.accessToken, target.id, 'revoke-sessions').expect(204);
      await s.dataSource.query(`UPDATE users SET role = 'user' WHERE id = ${promoted.id}`);
      await adminAction(promoted.tokens.accessToken, target.id, 'revoke-sessions').expect(403);
    });

    it('answers 401 without a session, 404 for unknown users and 400 for malformed ids', async () => {
      await request(s.server).post('/admin/users/1/block').expect(401);
      await adminAction(admin.accessToken, 999999, 'block').expect(404);
      await adminAction(admin.accessToken, 999999, 'unblock').expect(404);
      await adminAction(admin.accessToken, 999999, 'revoke-sessions').expect(404);
      for (const bad of ['abc', '0', '-1', '1.5', 'NaN', 'Infinity', '1e30', '99999999999999999999', '2147483648', "1'--"]) {
        const res = await adminAction(admin.accessToken, bad, 'block');
        expect([bad, res.status]).toEqual([bad, 400]);
      }
      await api.me(admin.accessToken).expect(200);
    });
  });

  describe('writes outside the app (session-token trigger)', () => {
    it('a raw SQL password change ends every session of the user', async () => {
      const { id, email, password, tokens: a } = await api.newUser();
      const b = await api.loginOk(email, password);
      await api.me(a.accessToken).expect(200); // cached now
      await api.me(b.accessToken).expect(200);

      await s.dataSource.query(`UPDATE users SET ${s.dataSource.driver.escape('passwordHash')} = 'reset-by-a-script' WHERE id = ${id}`);

      // Refresh asks the database: refused at once.
      await api.refresh(b.refreshToken).expect(401);
      // Access tokens: at once with the PostgreSQL NOTIFY bus, within the cache TTL without a bus (SQLite, MariaDB).
      const deadline = Date.now() + (name !== 'postgres' ? STALENESS_BOUND_MS + 2000 : 1000);
      let status = 200;
      while (Date.now() < deadline && (status = (await api.me(a.accessToken)).status) === 200) await new Promise((r) => setTimeout(r, 100));
      expect(status).toBe(401);
      await expectDead(a);
      await expectRefused(b.accessToken);
      await api.login(email, password).expect(401);
    }, 20000);
  });
});
