import { JwtService } from '@nestjs/jwt';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { RevocationNotifier } from '../lib/bus/revocation-notifier.js';
import { createSampleApp } from '../sample/app.factory.js';
import { EventsController } from '../sample/web/events.controller.js';
import type { SampleConfig } from '../sample/config.js';
import { browserRequest, CookieJar, setCookies } from './support/browser-flow.js';
import { testDatabases } from './support/databases.js';
import { ADMIN, SAMPLE_JWT_SECRET, sampleClient, sampleDatabase, startSample, uniqueEmail, type SampleApp } from './support/sample-app.js';
import { postgresUrl, redisUrl, warnSkipped } from './support/scaling.js';
import { openSse, type SseStream } from './support/sse.js';

/**
 * The sample's browser side over HTTP: the account page, the cookie flow (`X-Auth-Mode:
 * cookie`), its CSRF defence, `Cache-Control: no-store` everywhere, and the live
 * "you were signed out" stream `GET /events`. The page itself, in Chromium: browser.e2e-spec.ts.
 */

const CSRF_REFUSAL = {
  statusCode: 403,
  message: 'CSRF check failed: a request authenticated by cookie must send the X-CSRF-Token header with the value of the __Host-csrf_token cookie',
  error: 'Forbidden',
};
const PASSWORD = 'correct-horse-1';

async function listen(app: SampleApp['app']): Promise<string> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

describe.each(testDatabases())('sample app, browser side (%s)', (_name, database) => {
  let s: SampleApp;
  let base: string;
  let api: ReturnType<typeof sampleClient>;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    s = await startSample(database());
    base = await listen(s.app);
    api = sampleClient(s.server);
  });
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.close();
  });
  afterAll(() => s?.close());

  /** Registers a user and signs in once in the browser flow. */
  const browserUser = async (userAgent = 'Browser/1') => {
    const email = uniqueEmail('web');
    await api.register(email, PASSWORD).expect(201);
    const jar = await browserLogin(email, PASSWORD, userAgent);
    return { email, jar };
  };
  const browserLogin = async (email: string, password: string, userAgent = 'Browser/1') => {
    const res = await browserRequest(s.server, new CookieJar(), 'post', '/auth/login').set('User-Agent', userAgent).send({ email, password }).expect(200);
    return new CookieJar().take(res);
  };
  const meWith = (jar: CookieJar) => browserRequest(s.server, jar, 'get', '/me');
  const sse = async (headers: Record<string, string>) => {
    const stream = await openSse(`${base}/events`, headers);
    streams.push(stream);
    return stream;
  };

  describe('the account page', () => {
    it('GET / serves the page shell: HTML, no-store, a strict CSP, no private data', async () => {
      const res = await request(s.server).get('/').expect(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      for (const id of ['sign-in-form', 'sign-up-form', 'devices', 'sign-out-others', 'password-form', 'email-form', 'sign-out', 'notice']) {
        expect(res.text).toContain(`id="${id}"`);
      }
      expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script (CSP)
      expect(res.text).not.toContain('@example.com');
    });

    it('serves its script and style, no-store too', async () => {
      const js = await request(s.server).get('/app.js').expect(200);
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(js.headers['cache-control']).toBe('no-store');
      // Its live notice is the /live socket; the socket.io client it imports comes from the same origin.
      expect(js.text).toContain("io('/live'");
      expect(js.text).toContain("import { io } from '/socket.io/socket.io.esm.min.js';");
      const client = await request(s.server).get('/socket.io/socket.io.esm.min.js').expect(200);
      expect(client.headers['content-type']).toMatch(/javascript/);
      const css = await request(s.server).get('/app.css').expect(200);
      expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    });

    it('every API answer carries Cache-Control: no-store, success or error', async () => {
      const { tokens } = await api.newUser();
      const answers = [
        await request(s.server).get('/health'),
        await api.me(tokens.accessToken),
        await api.sessions(tokens.accessToken),
        await request(s.server).get('/me'),
        await api.login('nobody@example.com', 'wrong-password'),
        await request(s.server).post('/auth/register').send({}),
        await request(s.server).get('/no-such-route'),
      ];
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 401, 401, 400, 404]);
      for (const res of answers) expect(res.headers['cache-control']).toBe('no-store');
    });
  });

  describe('cookie flow (X-Auth-Mode: cookie)', () => {
    it('login sets __Host-/__Secure- prefixed HttpOnly, Secure, SameSite=Strict token cookies and a readable CSRF cookie; the body carries no token', async () => {
      const email = uniqueEmail('web');
      await api.register(email, PASSWORD).expect(201);
      const res = await request(s.server).post('/auth/login').set('X-Auth-Mode', 'cookie').send({ email, password: PASSWORD }).expect(200);
      expect(res.body).toEqual({ sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/), expiresIn: 900 });
      expect(res.headers['cache-control']).toBe('no-store');
      const cookies = Object.fromEntries(setCookies(res).map((c) => [c.name, c]));
      expect(Object.keys(cookies).sort()).toEqual(['__Host-access_token', '__Host-csrf_token', '__Secure-refresh_token']);
      // __Host-: Secure, Path=/ and no Domain (the browser refuses it otherwise, and a sibling
      // subdomain cannot set one); the exact attribute lists below leave no room for a Domain.
      expect(cookies['__Host-access_token'].attributes).toEqual({ path: '/', 'max-age': '900', secure: true, httponly: true, samesite: 'Strict' });
      expect(cookies['__Secure-refresh_token'].attributes).toEqual({ path: '/auth', 'max-age': String(30 * 24 * 3600), secure: true, httponly: true, samesite: 'Strict' });
      expect(cookies['__Host-csrf_token'].attributes).toEqual({ path: '/', 'max-age': String(30 * 24 * 3600), secure: true, samesite: 'Strict' });
      expect(cookies['__Host-csrf_token'].value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The access cookie is an ordinary access token of that session.
      const me = await api.me(cookies['__Host-access_token'].value).expect(200);
      expect(me.body.email).toBe(email);
    });

    it('without the header, login answers exactly as before: tokens in the body, no cookie', async () => {
      const { email } = await browserUser();
      const res = await api.login(email, PASSWORD).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'sessionId']);
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it('the access cookie authenticates GET requests, and the device list marks this device', async () => {
      const { email, jar } = await browserUser('Laptop/1');
      await browserLogin(email, PASSWORD, 'Phone/1');
      const me = await meWith(jar).expect(200);
      expect(me.body).toEqual({ id: expect.any(Number), email });
      const list = await browserRequest(s.server, jar, 'get', '/sessions').expect(200);
      expect(list.body).toHaveLength(2);
      expect(list.body.find((d: { current: boolean }) => d.current).userAgent).toBe('Laptop/1');
    });

    it('refresh reads the refresh cookie, rotates the token cookies and keeps the CSRF token; replaying the old cookie ends the session', async () => {
      const { jar } = await browserUser();
      const before = jar.copy();
      const res = await browserRequest(s.server, jar, 'post', '/auth/refresh').send({}).expect(200);
      expect(res.body).toEqual({ sessionId: expect.any(String), expiresIn: 900 });
      jar.take(res);
      expect(jar.refresh).not.toBe(before.refresh);
      expect(jar.access).not.toBe(before.access);
      expect(jar.csrf).toBe(before.csrf);
      await meWith(jar).expect(200);

      // The old refresh cookie a second time: reuse, the whole session ends (RFC 9700 4.14.2).
      await browserRequest(s.server, before, 'post', '/auth/refresh').send({}).expect(401);
      await meWith(jar).expect(401);
    });

    it('a password change in the browser flow renews the cookies, ends the other devices and keeps this one', async () => {
      const { email, jar } = await browserUser();
      const other = await api.loginOk(email, PASSWORD);
      const old = jar.copy();
      const res = await browserRequest(s.server, jar, 'post', '/auth/password').send({ currentPassword: PASSWORD, newPassword: 'new-password-22' }).expect(200);
      expect(res.body).toEqual({ sessionId: expect.any(String), expiresIn: 900 });
      jar.take(res);
      expect(jar.csrf).toBe(old.csrf);
      await meWith(jar).expect(200);
      await meWith(old).expect(401);
      await api.me(other.accessToken).expect(401);
      await api.refresh(other.refreshToken).expect(401);
    });

    it('an email change in the browser flow answers the user without tokens and renews the cookies', async () => {
      const { jar } = await browserUser();
      const email = uniqueEmail('moved');
      const res = await browserRequest(s.server, jar, 'patch', '/me').send({ email, currentPassword: PASSWORD }).expect(200);
      expect(res.body).toEqual({ id: expect.any(Number), email, sessionId: expect.any(String), expiresIn: 900 });
      jar.take(res);
      expect((await meWith(jar).expect(200)).body.email).toBe(email);
    });

    it('logout with the CSRF token ends the session named by the cookies and clears all three, and the unprefixed names of earlier versions', async () => {
      const { jar } = await browserUser();
      const old = jar.copy();
      const res = await browserRequest(s.server, jar, 'post', '/auth/logout').expect(204);
      expect(setCookies(res).map((c) => [c.name, c.attributes['max-age']])).toEqual([
        ['__Host-access_token', '0'],
        ['__Secure-refresh_token', '0'],
        ['__Host-csrf_token', '0'],
        ['access_token', '0'],
        ['refresh_token', '0'],
        ['csrf_token', '0'],
      ]);
      // Cleared with the attributes they were set with, or the browser keeps them.
      expect(setCookies(res).find((c) => c.name === 'refresh_token')!.attributes).toMatchObject({ path: '/auth', secure: true, httponly: true });
      expect(res.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
      jar.take(res);
      expect([jar.access, jar.refresh, jar.csrf]).toEqual([undefined, undefined, undefined]);
      await meWith(old).expect(401);
      await browserRequest(s.server, old, 'post', '/auth/refresh').send({}).expect(401);
    });

    it('logout without the CSRF token still answers 204 and clears the cookies, but cannot end the session (no forced sign-out)', async () => {
      const { jar } = await browserUser();
      const res = await browserRequest(s.server, jar, 'post', '/auth/logout', { csrf: false }).expect(204);
      expect(setCookies(res).map((c) => c.name).slice(0, 3)).toEqual(['__Host-access_token', '__Secure-refresh_token', '__Host-csrf_token']);
      await meWith(jar).expect(200);
    });

    it('the unprefixed cookie names of earlier versions authenticate nothing', async () => {
      const { jar } = await browserUser();
      await request(s.server).get('/me').set('Cookie', `access_token=${jar.access}`).expect(401);
      await meWith(jar).expect(200);
    });

    it('a second refresh cookie (planted by a sibling subdomain) is trusted neither by refresh nor by logout', async () => {
      const { email, jar } = await browserUser();
      const planted = await browserLogin(email, PASSWORD); // stands in for the attacker's session
      const twice = (first: string, second: string) =>
        `__Host-access_token=${jar.access}; __Secure-refresh_token=${first}; __Secure-refresh_token=${second}; __Host-csrf_token=${jar.csrf}`;
      // Refresh: neither cookie is used (no refresh token at all: 400), neither session rotates.
      const refresh = await browserRequest(s.server, new CookieJar(), 'post', '/auth/refresh', { csrf: jar.csrf })
        .set('Cookie', twice(planted.refresh!, jar.refresh!))
        .send({})
        .expect(400);
      expect(setCookies(refresh)).toEqual([]);
      await browserRequest(s.server, planted, 'post', '/auth/refresh').send({}).expect(200);
      // Logout: the access cookie names this session, the planted refresh token is ignored.
      await browserRequest(s.server, new CookieJar(), 'post', '/auth/logout', { csrf: jar.csrf })
        .set('Cookie', twice(jar.refresh!, planted.refresh!))
        .expect(204);
      await meWith(jar).expect(401);
      await meWith(planted).expect(200);
    });
  });

  describe('CSRF defence for cookie-authenticated requests', () => {
    const unsafe: Array<[string, 'post' | 'patch' | 'delete', (sessionId: string) => string, object]> = [
      ['POST /auth/logout-all', 'post', () => '/auth/logout-all', { keepCurrent: true }],
      ['DELETE /sessions/:id', 'delete', (id) => `/sessions/${id}`, {}],
      ['PATCH /me', 'patch', () => '/me', { email: 'x@example.com', currentPassword: PASSWORD }],
      ['POST /auth/password', 'post', () => '/auth/password', { currentPassword: PASSWORD, newPassword: 'new-password-22' }],
      ['POST /auth/refresh', 'post', () => '/auth/refresh', {}],
    ];

    it.each(unsafe)('%s without the X-CSRF-Token header: 403 with a clear message, nothing changes', async (_name, method, path, body) => {
      const { email, jar } = await browserUser();
      const other = await browserLogin(email, PASSWORD);
      const sessionId = (await browserRequest(s.server, other, 'get', '/sessions').expect(200)).body.find((d: { current: boolean }) => d.current).id;
      const res = await browserRequest(s.server, jar, method, path(sessionId), { csrf: false }).send(body).expect(403);
      expect(res.body).toEqual(CSRF_REFUSAL);
      expect(res.text).not.toContain(jar.csrf!);
      await meWith(jar).expect(200);
      await meWith(other).expect(200);
      expect((await meWith(jar)).body.email).toBe(email);
    });

    it('a wrong token, or a token without its cookie, is refused too', async () => {
      const { jar } = await browserUser();
      await browserRequest(s.server, jar, 'post', '/auth/logout-all', { csrf: `${jar.csrf!.slice(0, -1)}${jar.csrf!.endsWith('A') ? 'B' : 'A'}` }).send({}).expect(403);
      const noCookie = Object.assign(jar.copy(), { csrf: undefined });
      await browserRequest(s.server, noCookie, 'post', '/auth/logout-all', { csrf: jar.csrf }).send({}).expect(403);
      await meWith(jar).expect(200);
    });

    it.each([
      ['Origin of another site', { Origin: 'https://evil.example' }, 'Cross-origin request refused (Origin does not match the host)'],
      ['Origin "null"', { Origin: 'null' }, 'Cross-origin request refused (Origin does not match the host)'],
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }, 'Cross-site request refused (Sec-Fetch-Site is not same-origin)'],
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site' }, 'Cross-site request refused (Sec-Fetch-Site is not same-origin)'],
    ])('the right token from the wrong place (%s) is refused', async (_name, headers, message) => {
      const { jar } = await browserUser();
      const res = await browserRequest(s.server, jar, 'post', '/auth/logout-all', { headers }).send({}).expect(403);
      expect(res.body).toEqual({ statusCode: 403, message, error: 'Forbidden' });
      await meWith(jar).expect(200);
    });

    it('a same-origin request with the token passes (Origin of this very host)', async () => {
      const { email, jar } = await browserUser();
      const other = await browserLogin(email, PASSWORD);
      const host = new URL(base).host;
      await browserRequest(s.server, jar, 'post', '/auth/logout-all', { headers: { Origin: `http://${host}`, Host: host } }).send({ keepCurrent: true }).expect(204);
      await meWith(jar).expect(200);
      await meWith(other).expect(401);
    });

    it('login and register need no CSRF token but refuse a cross-site origin (login CSRF)', async () => {
      const email = uniqueEmail('web');
      await request(s.server).post('/auth/register').set('Origin', 'https://evil.example').send({ email, password: PASSWORD }).expect(403);
      await api.register(email, PASSWORD).expect(201);
      await request(s.server).post('/auth/login').set('Sec-Fetch-Site', 'cross-site').send({ email, password: PASSWORD }).expect(403);
      // Stale cookies of an earlier session do not stand in the way of signing in again.
      const stale = await browserLogin(email, PASSWORD);
      await browserRequest(s.server, stale, 'post', '/auth/login', { csrf: false }).send({ email, password: PASSWORD }).expect(200);
    });

    it('bearer clients need no CSRF token, whatever cookies they carry', async () => {
      const { tokens } = await api.newUser();
      await request(s.server)
        .post('/auth/logout-all')
        .set(api.bearer(tokens.accessToken))
        .set('Cookie', '__Host-access_token=stale; __Host-csrf_token=x')
        .send({ keepCurrent: true })
        .expect(204);
    });

    /** State the unsafe routes could change: this user's sessions and email (the password is checked last, by signing in). */
    const snapshot = async (jar: CookieJar) => ({
      me: (await meWith(jar).expect(200)).body,
      devices: (await browserRequest(s.server, jar, 'get', '/sessions').expect(200)).body.map((d: { id: string }) => d.id).sort(),
    });

    const garbageAuthorization: Array<[string, string]> = [
      ['empty', ''],
      ['garbage', 'garbage'],
      ['Bearer without a token', 'Bearer'],
      ['Basic credentials', 'Basic dXNlcjpwYXNz'],
      ['a bearer token that is not a JWT', 'Bearer not-a-token'],
    ];
    it.each(garbageAuthorization)(
      'an %s Authorization header does not stand in for the CSRF token: cookie-authenticated unsafe requests are refused and change nothing',
      async (_name, authorization) => {
        const { email, jar } = await browserUser();
        const other = await browserLogin(email, PASSWORD);
        const otherId = (await browserRequest(s.server, other, 'get', '/sessions').expect(200)).body.find((d: { current: boolean }) => d.current).id;
        const before = await snapshot(jar);
        const attempts: Array<['post' | 'patch' | 'delete', string, object]> = [
          ['post', '/auth/logout-all', { keepCurrent: false }],
          ['post', '/auth/password', { currentPassword: PASSWORD, newPassword: 'new-password-22' }],
          ['patch', '/me', { email: uniqueEmail('moved'), currentPassword: PASSWORD }],
          ['delete', `/sessions/${otherId}`, {}],
          ['post', '/auth/refresh', {}],
        ];
        for (const [method, path, body] of attempts) {
          const res = await browserRequest(s.server, jar, method, path, { csrf: false, headers: { Authorization: authorization } }).send(body);
          expect(res.headers['set-cookie']).toBeUndefined();
          expect([400, 401, 403]).toContain(res.status);
        }
        // Logout never refuses, but these cookies must not name the session to end.
        await browserRequest(s.server, jar, 'post', '/auth/logout', { csrf: false, headers: { Authorization: authorization } }).expect(204);
        expect(await snapshot(jar)).toEqual(before);
        await meWith(other).expect(200);
        await api.login(email, PASSWORD).expect(200);
      },
    );

    it.each([
      ['POST /auth/logout-all', '/auth/logout-all', { keepCurrent: false }],
      ['POST /auth/password', '/auth/password', { currentPassword: PASSWORD, newPassword: 'new-password-22' }],
    ])('a cross-origin cookie request to %s (Origin: https://evil.example, Sec-Fetch-Site: cross-site) is refused 403 and changes nothing', async (_name, path, body) => {
      const { email, jar } = await browserUser();
      const other = await browserLogin(email, PASSWORD);
      const before = await snapshot(jar);
      const crossSite = { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' };
      // Without the CSRF token (what a cross-site page can send), and even with it.
      for (const csrf of [false, true]) {
        const res = await browserRequest(s.server, jar, 'post', path, { csrf, headers: crossSite }).send(body).expect(403);
        expect(res.body).toEqual({ statusCode: 403, message: expect.stringMatching(/^Cross-(site|origin) request refused/), error: 'Forbidden' });
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      expect(await snapshot(jar)).toEqual(before);
      await meWith(other).expect(200);
      await api.login(email, PASSWORD).expect(200);
    });
  });

  describe('GET /events (live "you were signed out")', () => {
    it('401 without a session, like every protected route', async () => {
      const none = await sse({});
      await none.ended;
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(none.text())).toEqual({ statusCode: 401, message: 'Unauthorized' });

      const { tokens } = await api.newUser();
      await request(s.server).post('/auth/logout').send({ refreshToken: tokens.refreshToken }).expect(204);
      const revoked = await sse({ Authorization: `Bearer ${tokens.accessToken}` });
      await revoked.ended;
      expect(revoked.status).toBe(401);
    });

    it('streams ready, then session-ended as soon as another device signs this one out, then ends', async () => {
      const { email, password, tokens: phone } = await api.newUser();
      const laptop = await api.loginOk(email, password);
      const stream = await sse({ Authorization: `Bearer ${phone.accessToken}` });
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(stream.headers['cache-control']).toContain('no-store');
      const ready = await stream.next('ready');
      expect(ready.retry).toBe(2000);
      expect(JSON.parse(ready.data)).toEqual({ sessionId: phone.sessionId });

      const t0 = Date.now();
      await request(s.server).delete(`/sessions/${phone.sessionId}`).set(api.bearer(laptop.accessToken)).expect(204);
      const ended = await stream.next('session-ended', 2000);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(JSON.parse(ended.data)).toEqual({ sessionId: phone.sessionId, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
      await stream.ended;
      expect(stream.text()).not.toContain(phone.accessToken);
    });

    it('works with the access cookie; a password change on another device ends this stream, the changing one gets reconnect', async () => {
      const { email, jar } = await browserUser();
      const other = await browserLogin(email, PASSWORD);
      const mine = await sse({ Cookie: jar.header('/events') });
      const theirs = await sse({ Cookie: other.header('/events') });
      await mine.next('ready');
      await theirs.next('ready');

      const res = await browserRequest(s.server, jar, 'post', '/auth/password').send({ currentPassword: PASSWORD, newPassword: 'new-password-22' }).expect(200);
      jar.take(res);
      await theirs.next('session-ended', 2000);
      // Only this stream's token was superseded: the session goes on, the page reopens the stream.
      await mine.next('reconnect', 2000);
      expect(mine.events.some((e) => e.type === 'session-ended')).toBe(false);
      await mine.ended;
      const again = await sse({ Cookie: jar.header('/events') });
      expect(again.status).toBe(200);
      await again.next('ready');
      await meWith(jar).expect(200);
    });

    it('logout-all, logout and an admin block each end the stream', async () => {
      const admin = await api.loginOk(ADMIN.email, ADMIN.password);
      const a = await api.newUser();
      const b = await api.newUser();
      const c = await api.newUser();
      const streams = await Promise.all([a, b, c].map((u) => sse({ Authorization: `Bearer ${u.tokens.accessToken}` })));
      await Promise.all(streams.map((st) => st.next('ready')));
      await request(s.server).post('/auth/logout-all').set(api.bearer(a.tokens.accessToken)).send({}).expect(204);
      await request(s.server).post('/auth/logout').send({ refreshToken: b.tokens.refreshToken }).expect(204);
      await request(s.server).post(`/admin/users/${c.id}/block`).set(api.bearer(admin.accessToken)).expect(204);
      await Promise.all(streams.map((st) => st.next('session-ended', 2000)));
    });

    it('ends with reconnect when the access token it was opened with expires, though the session goes on', async () => {
      const { tokens } = await api.newUser();
      // The same token, re-signed to expire in 2 s (the sample's own are good for 15 min).
      const jwt = new JwtService();
      const claims = jwt.decode(tokens.accessToken) as Record<string, unknown>;
      const now = Math.floor(Date.now() / 1000);
      const shortLived = jwt.sign({ ...claims, iat: now, exp: now + 2 }, { secret: SAMPLE_JWT_SECRET, algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } });
      const stream = await sse({ Authorization: `Bearer ${shortLived}` });
      expect(stream.status).toBe(200);
      await stream.next('ready');
      const reconnect = await stream.next('reconnect', 4000);
      expect(JSON.parse(reconnect.data)).toEqual({ sessionId: tokens.sessionId });
      expect(Date.now() / 1000).toBeGreaterThanOrEqual(now + 2 - 0.05);
      await stream.ended;
      expect(stream.events.map((e) => e.type)).toEqual(['ready', 'reconnect']);
      // The session itself is live: fresh credentials open a new stream.
      await api.me(tokens.accessToken).expect(200);
      const again = await sse({ Authorization: `Bearer ${tokens.accessToken}` });
      await again.next('ready');
    });

    /** Waits until the server has released the streams of earlier tests. */
    const settled = async (controller: EventsController) => {
      const deadline = Date.now() + 3000;
      while (controller.openStreams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(controller.openStreams).toBe(0);
    };

    it('at most 4 streams per session: the 5th is refused 429 with a clear message; closing one frees a slot; other sessions are not affected', async () => {
      const controller = s.app.get(EventsController);
      await settled(controller);
      const { email, jar } = await browserUser();
      const other = await browserLogin(email, PASSWORD);
      const open = [];
      for (let i = 0; i < 4; i++) {
        const stream = await sse({ Cookie: jar.header('/events') });
        expect(stream.status).toBe(200);
        await stream.next('ready');
        open.push(stream);
      }
      const refused = await sse({ Cookie: jar.header('/events') });
      await refused.ended;
      expect(refused.status).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(refused.text())).toEqual({
        statusCode: 429,
        message: 'Too many open event streams for this session (at most 4): close another tab or window of this account first',
        error: 'Too Many Requests',
      });
      expect(refused.text()).not.toContain(jar.access!);
      // A bearer stream of the same session counts too (the cap is per session, not per cookie).
      const token = jar.access!;
      const bearer = await sse({ Authorization: `Bearer ${token}` });
      await bearer.ended;
      expect(bearer.status).toBe(429);
      // Another device of the same user has its own allowance.
      const theirs = await sse({ Cookie: other.header('/events') });
      expect(theirs.status).toBe(200);
      await theirs.next('ready');
      expect(controller.openStreams).toBe(5);

      open.shift()!.close();
      const deadline = Date.now() + 3000;
      while (controller.openStreams > 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const reopened = await sse({ Cookie: jar.header('/events') });
      expect(reopened.status).toBe(200);
      await reopened.next('ready');
    });

    it('a stream that ended (session ended) gives its slot back', async () => {
      const controller = s.app.get(EventsController);
      await settled(controller);
      const { email, password, tokens } = await api.newUser();
      const laptop = await api.loginOk(email, password);
      const streams = await Promise.all([1, 2, 3, 4].map(() => sse({ Authorization: `Bearer ${tokens.accessToken}` })));
      await Promise.all(streams.map((st) => st.next('ready')));
      await request(s.server).delete(`/sessions/${tokens.sessionId}`).set(api.bearer(laptop.accessToken)).expect(204);
      await Promise.all(streams.map((st) => st.ended));
      const deadline = Date.now() + 3000;
      while (controller.openStreams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(controller.openStreams).toBe(0);
    });

    it('at most limits.total streams in the process: beyond, 429 for everyone', async () => {
      const controller = s.app.get(EventsController);
      await settled(controller);
      expect(controller.limits).toEqual({ perSession: 4, perUser: 16, total: 10_000 });
      const saved = { ...controller.limits };
      controller.limits.total = 2;
      try {
        const users = await Promise.all([1, 2, 3].map(() => api.newUser()));
        const [a, b] = await Promise.all(users.slice(0, 2).map((u) => sse({ Authorization: `Bearer ${u.tokens.accessToken}` })));
        await a.next('ready');
        await b.next('ready');
        const c = await sse({ Authorization: `Bearer ${users[2].tokens.accessToken}` });
        await c.ended;
        expect(c.status).toBe(429);
        expect(JSON.parse(c.text())).toEqual({
          statusCode: 429,
          message: 'Too many open event streams on this server (at most 2): try again later',
          error: 'Too Many Requests',
        });
      } finally {
        Object.assign(controller.limits, saved);
      }
    });

    it('parallel opens cannot overshoot the per-session cap', async () => {
      const controller = s.app.get(EventsController);
      await settled(controller);
      const { tokens } = await api.newUser();
      const streams = await Promise.all(Array.from({ length: 10 }, () => sse({ Authorization: `Bearer ${tokens.accessToken}` })));
      expect(streams.map((st) => st.status).sort()).toEqual([200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
      expect(controller.openStreams).toBe(4);
    });

    it('stops watching when the client goes away', async () => {
      const notifier = s.app.get(RevocationNotifier);
      const original = notifier.subscribe;
      let watching = 0;
      notifier.subscribe = function (listener) {
        watching++;
        const off = original.call(this, listener);
        return () => {
          watching--;
          off();
        };
      };
      try {
        const { tokens } = await api.newUser();
        const stream = await sse({ Authorization: `Bearer ${tokens.accessToken}` });
        await stream.next('ready');
        expect(watching).toBe(1);
        stream.close();
        const deadline = Date.now() + 2000;
        while (watching > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(watching).toBe(0);
      } finally {
        notifier.subscribe = original;
      }
    });
  });
});

describe('GET /events and shutdown', () => {
  it('app.close() ends the open streams instead of waiting for the clients to leave', async () => {
    const s = await startSample(testDatabases()[0][1]());
    const base = await listen(s.app);
    const { tokens } = await sampleClient(s.server).newUser();
    const stream = await openSse(`${base}/events`, { Authorization: `Bearer ${tokens.accessToken}` });
    try {
      await stream.next('ready');
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        s.close().then(() => 'closed'),
        new Promise((resolve) => (timer = setTimeout(resolve, 10_000, 'still waiting'))),
      ]);
      clearTimeout(timer);
      expect(closed).toBe('closed');
      // Not even the keep-alive timeout (5 s) of the stream's connection is waited for.
      expect(Date.now() - t0).toBeLessThan(2000);
      await stream.ended;
      // Ended without a session-ended event: an EventSource simply reconnects later.
      expect(stream.events.map((e) => e.type)).toEqual(['ready']);
    } finally {
      stream.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Two instances of the sample on one PostgreSQL database with the Redis bus: a device signed
// out through instance 2 learns it at once on a stream served by instance 1.
// ---------------------------------------------------------------------------------------------

describe('GET /events across instances (Redis bus)', () => {
  const runnable = !!redisUrl && !!postgresUrl;
  if (!runnable) warnSkipped('Cross-instance SSE', 'set CI=1 (or TEST_DATABASE_URL and TEST_REDIS_URL) to run them');

  if (runnable) it('a revocation on instance 2 reaches the stream on instance 1 within 2 s', async () => {
    const db = testDatabases().find(([name]) => name === 'postgres')![1]();
    const config: SampleConfig = {
      port: 0,
      database: await sampleDatabase(db),
      redisUrl,
      jwtSecret: SAMPLE_JWT_SECRET,
      admin: ADMIN,
      authRateLimitPerIp: 0,
    };
    const one = await createSampleApp(config, { logger: false });
    const two = await createSampleApp(config, { logger: false });
    let stream: SseStream | undefined;
    try {
      const base = await listen(one);
      const api1 = sampleClient(one.getHttpServer());
      const api2 = sampleClient(two.getHttpServer());
      const { email, password, tokens: phone } = await api1.newUser();
      const laptop = await api2.loginOk(email, password);
      stream = await openSse(`${base}/events`, { Authorization: `Bearer ${phone.accessToken}` });
      await stream.next('ready');
      // The stream's instance has the session cached: only the bus can tell it.
      await api1.me(phone.accessToken).expect(200);

      const t0 = Date.now();
      await request(two.getHttpServer()).delete(`/sessions/${phone.sessionId}`).set(api2.bearer(laptop.accessToken)).expect(204);
      await stream.next('session-ended', 2000);
      expect(Date.now() - t0).toBeLessThan(2000);
      await api1.me(phone.accessToken).expect(401);
    } finally {
      stream?.close();
      await one.close();
      await two.close();
      await db.cleanup();
    }
  });
});
