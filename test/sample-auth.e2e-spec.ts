import { JwtService } from '@nestjs/jwt';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { testDatabases } from './support/databases.js';
import { SAMPLE_JWT_SECRET, sampleClient, startSample, uniqueEmail, type SampleApp, type Tokens } from './support/sample-app.js';

const INVALID_TOKEN = 'Bearer error="invalid_token"';

describe.each(testDatabases())('sample app: accounts, tokens and logout (%s)', (_name, database) => {
  let s: SampleApp;
  let api: ReturnType<typeof sampleClient>;

  beforeAll(async () => {
    s = await startSample(database());
    api = sampleClient(s.server);
  });
  afterAll(() => s?.close());

  const expectTokens = (body: Tokens) =>
    expect(body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      expiresIn: 900,
    });
  const expectRefused = async (accessToken: string) => {
    const res = await api.me(accessToken).expect(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(res.body).toEqual({ statusCode: 401, message: 'Unauthorized' });
  };

  describe('register, login, me', () => {
    it('registers (201 {id, email}), logs in (200 tokens, no-store) and answers /me', async () => {
      const email = uniqueEmail('Mixed.Case');
      const reg = await api.register(`  ${email.toUpperCase()} `, 'correct-horse-1').expect(201);
      expect(reg.body).toEqual({ id: expect.any(Number), email: email.toLowerCase() });

      const login = await api.login(email.toLowerCase(), 'correct-horse-1').expect(200);
      expectTokens(login.body);
      expect(login.headers['cache-control']).toBe('no-store');

      const me = await api.me(login.body.accessToken).expect(200);
      expect(me.body).toEqual({ id: reg.body.id, email: email.toLowerCase() });
    });

    it('logs in whatever the case of the email', async () => {
      const { email, password } = await api.newUser();
      await api.login(email.toUpperCase(), password).expect(200);
    });

    it('refuses a taken email with 409, also in another case', async () => {
      const { email } = await api.newUser();
      const res = await api.register(email, 'another-password').expect(409);
      expect(res.body).toMatchObject({ statusCode: 409 });
      await api.register(email.toUpperCase(), 'another-password').expect(409);
    });

    it.each([
      ['missing fields', {}],
      ['missing password', { email: 'a@example.com' }],
      ['invalid email', { email: 'not-an-email', password: 'long-enough-1' }],
      ['email too long', { email: `${'a'.repeat(250)}@example.com`, password: 'long-enough-1' }],
      ['password too short', { email: 'short@example.com', password: 'seven77' }],
      ['password too long', { email: 'long@example.com', password: 'x'.repeat(129) }],
      ['wrong types', { email: 42, password: ['long-enough-1'] }],
      ['object as email', { email: { $ne: null }, password: 'long-enough-1' }],
      ['unknown property', { email: 'extra@example.com', password: 'long-enough-1', role: 'admin' }],
    ])('refuses bad registration input with 400: %s', async (_case, body) => {
      const res = await request(s.server).post('/auth/register').send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });

    it('accepts a 128-character password', async () => {
      const email = uniqueEmail();
      const head = randomBytes(96).toString('base64url').slice(0, 127);
      const password = `${head}é`;
      await api.register(email, password).expect(201);
      await api.login(email, password).expect(200);
      // The whole password counts (bcrypt alone would stop at 72 bytes).
      await api.login(email, `${head}e`).expect(401);
    });

    it('answers 401 with the same generic body for a wrong password and an unknown email', async () => {
      const { email } = await api.newUser();
      const wrong = await api.login(email, 'wrong-password').expect(401);
      const unknown = await api.login(uniqueEmail('nobody'), 'wrong-password').expect(401);
      expect(wrong.body).toEqual({ statusCode: 401, message: 'Unauthorized' });
      expect(unknown.body).toEqual(wrong.body);
      expect(wrong.body.accessToken).toBeUndefined();
    });

    it('refuses /me without a token (401, WWW-Authenticate: Bearer) and with a garbage one', async () => {
      const none = await request(s.server).get('/me').expect(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      await expectRefused('not.a.jwt');
      await request(s.server).get('/me').set('Authorization', 'Basic dXNlcjpwYXNz').expect(401);
      await request(s.server).get('/me').set('Authorization', `Bearer ${'a'.repeat(10_000)}`).expect(401);
    });
  });

  describe('password change', () => {
    it('gives the changing device new tokens and ends every other session', async () => {
      const { email, password } = await api.newUser();
      const a = await api.loginOk(email, password, 'device A');
      const b = await api.loginOk(email, password, 'device B');
      await api.me(a.accessToken).expect(200);
      await api.me(b.accessToken).expect(200);

      const res = await request(s.server)
        .post('/auth/password')
        .set(api.bearer(a.accessToken))
        .send({ currentPassword: password, newPassword: 'brand-new-password' })
        .expect(200);
      expectTokens(res.body);
      expect(res.headers['cache-control']).toBe('no-store');
      const a2: Tokens = res.body;
      expect(a2.sessionId).toBe(a.sessionId);

      // A continues with the new tokens.
      await api.me(a2.accessToken).expect(200);
      // B is out: access token and refresh token.
      await expectRefused(b.accessToken);
      await api.refresh(b.refreshToken).expect(401);
      // A's access token from before the change is refused too.
      await expectRefused(a.accessToken);
      // A's new refresh token works.
      const a3 = (await api.refresh(a2.refreshToken).expect(200)).body as Tokens;
      await api.me(a3.accessToken).expect(200);
      // Only A is left in the device list.
      const list = await api.sessions(a3.accessToken).expect(200);
      expect(list.body.map((x: { id: string }) => x.id)).toEqual([a.sessionId]);

      await api.login(email, password).expect(401);
      await api.login(email, 'brand-new-password').expect(200);
    });

    it('answers 403 to a wrong current password and changes nothing', async () => {
      const { email, password, tokens } = await api.newUser();
      const other = await api.loginOk(email, password);
      const res = await request(s.server)
        .post('/auth/password')
        .set(api.bearer(tokens.accessToken))
        .send({ currentPassword: 'not-my-password', newPassword: 'brand-new-password' })
        .expect(403);
      expect(res.body.accessToken).toBeUndefined();
      await api.me(tokens.accessToken).expect(200);
      await api.me(other.accessToken).expect(200);
      await api.login(email, password).expect(200);
    });

    it('validates the new password (400) and requires a session (401)', async () => {
      const { password, tokens } = await api.newUser();
      await request(s.server).post('/auth/password').set(api.bearer(tokens.accessToken)).send({ currentPassword: password, newPassword: 'short' }).expect(400);
      await request(s.server).post('/auth/password').set(api.bearer(tokens.accessToken)).send({ currentPassword: password }).expect(400);
      await request(s.server).post('/auth/password').send({ currentPassword: password, newPassword: 'long-enough-2' }).expect(401);
      await api.me(tokens.accessToken).expect(200);
    });
  });

  describe('email change (PATCH /me)', () => {
    it('changes the email, keeps the caller with the returned tokens and ends every other session', async () => {
      const { id, email, password } = await api.newUser();
      const a = await api.loginOk(email, password, 'device A');
      const b = await api.loginOk(email, password, 'device B');
      await api.me(b.accessToken).expect(200);

      const newEmail = uniqueEmail('Renamed');
      const res = await request(s.server)
        .patch('/me')
        .set(api.bearer(a.accessToken))
        .send({ email: newEmail.toUpperCase(), currentPassword: password })
        .expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        id,
        email: newEmail.toLowerCase(),
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        sessionId: a.sessionId,
        expiresIn: 900,
      });

      const me = await api.me(res.body.accessToken).expect(200);
      expect(me.body).toEqual({ id, email: newEmail.toLowerCase() });
      await expectRefused(b.accessToken);
      await api.refresh(b.refreshToken).expect(401);
      await expectRefused(a.accessToken);
      await api.refresh(res.body.refreshToken).expect(200);

      await api.login(email, password).expect(401);
      await api.login(newEmail, password).expect(200);
    });

    it('answers 409 for a taken email, 403 for a wrong password (checked first) and 400 for bad input', async () => {
      const taken = await api.newUser();
      const { email, password, tokens } = await api.newUser();
      const patch = (body: object) => request(s.server).patch('/me').set(api.bearer(tokens.accessToken)).send(body);

      await patch({ email: taken.email, currentPassword: password }).expect(409);
      await patch({ email: taken.email, currentPassword: 'wrong-password' }).expect(403);
      await patch({ email: uniqueEmail(), currentPassword: 'wrong-password' }).expect(403);
      await patch({ email: 'nope', currentPassword: password }).expect(400);
      await patch({ email: uniqueEmail() }).expect(400);

      // Nothing changed and the session survived.
      expect((await api.me(tokens.accessToken).expect(200)).body.email).toBe(email);
    });
  });

  describe('refresh', () => {
    it('rotates: new tokens work, and a reused refresh token ends the whole family', async () => {
      const { tokens: t1 } = await api.newUser();
      const res = await api.refresh(t1.refreshToken).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expectTokens(res.body);
      const t2: Tokens = res.body;
      expect(t2.sessionId).toBe(t1.sessionId);
      expect(t2.refreshToken).not.toBe(t1.refreshToken);
      await api.me(t2.accessToken).expect(200);

      // Theft detection: the used token comes back.
      await api.refresh(t1.refreshToken).expect(401);
      // The successor tokens die with the family.
      await expectRefused(t2.accessToken);
      await api.refresh(t2.refreshToken).expect(401);
      await expectRefused(t1.accessToken);
    });

    it('lets exactly one of 20 parallel refreshes of one token succeed', async () => {
      const { tokens } = await api.newUser();
      const results = await Promise.all(Array.from({ length: 20 }, () => api.refresh(tokens.refreshToken)));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((x) => x === 200)).toHaveLength(1);
      expect(statuses.filter((x) => x === 401)).toHaveLength(19);
    });

    it('refuses unknown tokens with 401 and malformed bodies with 400', async () => {
      await api.refresh('x'.repeat(43)).expect(401);
      await api.refresh(12345).expect(400);
      await api.refresh('').expect(400);
      await api.refresh('x'.repeat(513)).expect(400);
      await request(s.server).post('/auth/refresh').send({}).expect(400);
    });
  });

  describe('logout', () => {
    // The browser flow's cookies, then the unprefixed names of earlier versions of the sample.
    const COOKIES = [
      '__Host-access_token=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict',
      '__Secure-refresh_token=; Path=/auth; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict',
      '__Host-csrf_token=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=Strict',
      'access_token=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict',
      'refresh_token=; Path=/auth; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict',
      'csrf_token=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=Strict',
    ];
    const expectLogoutHeaders = (res: request.Response) => {
      expect(res.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['set-cookie']).toEqual(COOKIES);
      expect(res.text).toBe('');
    };
    const logout = () => request(s.server).post('/auth/logout');

    it('answers 204 with the clearing headers without any token', async () => {
      expectLogoutHeaders(await logout().expect(204));
      expectLogoutHeaders(await logout().send({}).expect(204));
    });

    it('answers 204 to garbage tokens and odd bodies', async () => {
      await logout().set('Authorization', 'Bearer garbage.token.here').send({ refreshToken: 'nope' }).expect(204);
      await logout().set('Authorization', 'Basic abc').expect(204);
      await logout().send({ refreshToken: 42, other: true }).expect(204);
      await logout().set('Content-Type', 'text/plain').send('hello').expect(204);
    });

    it('ends the session of the bearer access token and nothing else', async () => {
      const { email, password, tokens } = await api.newUser();
      const other = await api.loginOk(email, password);
      expectLogoutHeaders(await logout().set(api.bearer(tokens.accessToken)).expect(204));
      await expectRefused(tokens.accessToken);
      await api.refresh(tokens.refreshToken).expect(401);
      await api.me(other.accessToken).expect(200);
    });

    it('ends the session of a refresh token sent without an access token', async () => {
      const { tokens } = await api.newUser();
      await logout().send({ refreshToken: tokens.refreshToken }).expect(204);
      await expectRefused(tokens.accessToken);
      await api.refresh(tokens.refreshToken).expect(401);
    });

    it('ends the session of an expired access token', async () => {
      const { tokens } = await api.newUser();
      const jwt = new JwtService();
      const claims = jwt.decode(tokens.accessToken) as Record<string, unknown>;
      const now = Math.floor(Date.now() / 1000);
      const expired = jwt.sign(
        { ...claims, iat: now - 3600, exp: now - 1800 },
        { secret: SAMPLE_JWT_SECRET, algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } },
      );
      await expectRefused(expired);
      await logout().set(api.bearer(expired)).expect(204);
      await expectRefused(tokens.accessToken);
      await api.refresh(tokens.refreshToken).expect(401);
    });

    it('is POST only: GET /auth/logout ends nothing', async () => {
      const { tokens } = await api.newUser();
      const res = await request(s.server).get('/auth/logout').set(api.bearer(tokens.accessToken));
      expect([404, 405]).toContain(res.status);
      expect(res.headers['clear-site-data']).toBeUndefined();
      await api.me(tokens.accessToken).expect(200);
      await api.refresh(tokens.refreshToken).expect(200);
    });
  });

  describe('bad input never gives a 500', () => {
    it('answers malformed JSON with a 400 JSON body', async () => {
      const res = await request(s.server).post('/auth/login').set('Content-Type', 'application/json').send('{"email": "a@example.com", ').expect(400);
      expect(res.body).toEqual({ statusCode: 400, message: 'Malformed JSON body', error: 'Bad Request' });
    });

    it('answers a 1 MB body with a 413 JSON body', async () => {
      const res = await request(s.server)
        .post('/auth/register')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ email: 'big@example.com', password: 'x'.repeat(1024 * 1024) }))
        .expect(413);
      expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    });

    it.each([
      ['text/plain', 'text/plain', 'email=a@example.com&password=long-enough-1', 400],
      ['form-encoded', 'application/x-www-form-urlencoded', 'email=a%40example.com&password=long-enough-1', 400],
      ['JSON array', 'application/json', '[{"email":"a@example.com","password":"long-enough-1"}]', 400],
      ['JSON null', 'application/json', 'null', 400],
      ['JSON string', 'application/json', '"a@example.com"', 400],
      ['unsupported charset', 'application/json; charset=latin1', '{}', 415],
    ])('refuses a %s body on /auth/login with a JSON error', async (_case, type, body, status) => {
      const res = await request(s.server).post('/auth/login').set('Content-Type', type).send(body).expect(status);
      expect(res.body).toMatchObject({ statusCode: status });
    });

    it.each([
      ['__proto__', { role: 'admin' }],
      ['constructor', { prototype: { role: 'admin' } }],
    ])('ignores a %s key: no 500, no pollution, no privilege', async (key, value) => {
      const email = uniqueEmail('proto');
      const body = `{"email":"${email}","password":"long-enough-1","${key}":${JSON.stringify(value)}}`;
      const reg = await request(s.server).post('/auth/register').set('Content-Type', 'application/json').send(body);
      expect([201, 400]).toContain(reg.status);
      expect(({} as Record<string, unknown>).role).toBeUndefined();
      if (reg.status === 201) {
        const { accessToken } = await api.loginOk(email, 'long-enough-1');
        await request(s.server).post(`/admin/users/${reg.body.id}/block`).set(api.bearer(accessToken)).expect(403);
      }
    });

    it('answers a 128+ character password at login with 400, not a slow hash', async () => {
      await api.login('a@example.com', 'x'.repeat(10_000)).expect(400);
    });

    it('answers unknown routes with 404', async () => {
      await request(s.server).get('/nope').expect(404);
    });
  });

  it('GET /health answers 200 {status: "ok"} without a token', async () => {
    const res = await request(s.server).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
});
