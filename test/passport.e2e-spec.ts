/**
 * The NestJS docs' authentication app (LocalStrategy + JwtStrategy + global JwtAuthGuard +
 * `@Public()`) adopting the library: with `SessionJwtStrategy`, with the library's guard and
 * `publicRouteKey`, and with both, over Express and Fastify (see test/support/docs-auth-app.ts).
 */
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import jsonwebtoken from 'jsonwebtoken';
import request from 'supertest';
import { testDatabases } from './support/databases.js';
import type { Repository } from 'typeorm';
import { createDocsApp, DOCS_SECRET, DocsUser, type Adoption, type DocsApp } from './support/docs-auth-app.js';

const sqlite = testDatabases()[0][1];
const hour = 3_600_000;
const INVALID_TOKEN = 'Bearer error="invalid_token"';

function expectRefused(res: request.Response, challenge = INVALID_TOKEN) {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ statusCode: 401, message: 'Unauthorized' });
  expect(res.headers['www-authenticate']).toBe(challenge);
}

/** A token the docs' app minted itself (`AuthService.login` before the adoption). */
function legacyToken(sub: number, username: string, options: { secret?: string; expiresIn?: number } = {}) {
  return new JwtService({ secret: options.secret ?? DOCS_SECRET }).sign({ username, sub }, { expiresIn: options.expiresIn ?? 60 });
}

/** Counts the signature verifications (jsonwebtoken.verify, under @nestjs/jwt and passport-jwt alike) one call makes. */
async function verifications(call: () => Promise<unknown>): Promise<number> {
  const spy = jest.spyOn(jsonwebtoken, 'verify');
  try {
    await call();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

describe.each([['express'], ['fastify']] as const)('the docs app over %s', (adapter) => {
  describe('before the adoption', () => {
    let t: DocsApp;
    beforeAll(async () => {
      t = await createDocsApp(sqlite(), { adoption: 'before', adapter });
      await t.dataSource.getRepository(DocsUser).save({ username: 'john', password: 'changeme' });
    });
    afterAll(() => t?.close());

    it('works as the docs describe: login, public and protected routes, one verification per request', async () => {
      const login = await request(t.server).post('/auth/login').send({ username: 'john', password: 'changeme' }).expect(201);
      const auth = `Bearer ${login.body.access_token}`;
      await request(t.server).get('/public').expect(200, { ok: true });
      await request(t.server).get('/profile').expect(401);
      expect(await verifications(() => request(t.server).get('/profile').set('Authorization', auth).expect(200, { userId: 1, username: 'john' }))).toBe(1);
    });
  });

  describe.each<[Adoption]>([['strategy'], ['guard'], ['both']])('adopted with %s', (adoption) => {
    let t: DocsApp;
    let users: Repository<DocsUser>;
    let n = 0;
    const passportRoutes = adoption === 'guard' ? [] : ['/skipped'];
    /** request.user as the app shapes it: the app's strategy, or the library's guard's context. */
    const appUser = (userId: number, username: string) =>
      adoption === 'guard' ? expect.objectContaining({ userId, sessionId: expect.any(String), claims: expect.objectContaining({ username }) }) : { userId, username };

    beforeAll(async () => {
      t = await createDocsApp(sqlite(), { adoption, adapter, legacyTokens: { secret: DOCS_SECRET, until: new Date(Date.now() + hour) } });
      users = t.dataSource.getRepository(DocsUser);
      await users.save({ username: 'john', password: 'changeme' });
    });
    afterAll(() => t?.close());

    const newUser = () => users.save({ username: `${adoption}-${adapter}-${n++}`, password: 'secret' });
    const login = async (user: DocsUser) => {
      const res = await request(t.server).post('/auth/login').send({ username: user.username, password: user.password }).expect(201);
      return res.body as { accessToken: string; refreshToken: string; sessionId: string };
    };
    const get = (path: string, token?: string) => {
      const req = request(t.server).get(path);
      return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
    };
    const protectedRoutes = ['/profile', '/sessions', ...passportRoutes];

    it('keeps public routes public and the login working', async () => {
      await get('/public').expect(200, { ok: true });
      await request(t.server).post('/auth/login').send({ username: 'john', password: 'wrong' }).expect(401);
      const tokens = await login((await users.findOneBy({ username: 'john' }))!);
      expect(tokens).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), sessionId: expect.any(String), expiresIn: 900 });
    });

    it('asks for a token on every protected route', async () => {
      for (const path of protectedRoutes) expectRefused(await get(path), 'Bearer');
      for (const path of protectedRoutes) expectRefused(await get(path, 'not.a.token'));
    });

    it("gives request.user the app's shape, with the custom claims of the login, also after a refresh", async () => {
      const user = await newUser();
      const tokens = await login(user);
      expect((await get('/profile', tokens.accessToken).expect(200)).body).toEqual(appUser(user.id, user.username));
      for (const path of passportRoutes) await get(path, tokens.accessToken).expect(200, { userId: user.id, username: user.username });
      const sessions = await get('/sessions', tokens.accessToken).expect(200);
      expect(sessions.body).toEqual([expect.objectContaining({ id: tokens.sessionId, current: true })]);
      const refreshed = await request(t.server).post('/auth/refresh').send({ refreshToken: tokens.refreshToken }).expect(201);
      const profile = await get('/profile', refreshed.body.accessToken).expect(200);
      expect(profile.body).toEqual(appUser(user.id, user.username));
    });

    it('verifies a signature once per request at most, whichever guards and strategies run (a cached token: not again)', async () => {
      const tokens = await login(await newUser());
      const [first, ...others] = protectedRoutes;
      expect(await verifications(() => get(first, tokens.accessToken).expect(200))).toBe(1);
      // The verified-token cache serves the very same string without verifying it again.
      for (const path of others) expect(await verifications(() => get(path, tokens.accessToken).expect(200))).toBe(0);
      expect(await verifications(() => get('/profile', legacyToken(1, 'john')).expect(200))).toBe(1);
    });

    it.each([
      ['revoked', async (t: DocsApp, user: DocsUser, sessionId: string) => void (await t.sessions!.revokeSession(user.id, sessionId))],
      ['logged out everywhere', async (t: DocsApp, user: DocsUser) => void (await t.sessions!.invalidateSessions(user.id))],
      ['blocked', async (t: DocsApp, user: DocsUser) => t.sessions!.blockUser(user.id)],
      ['rotated (password changed)', async (t: DocsApp, user: DocsUser) => void (await t.dataSource.getRepository(DocsUser).save({ ...user, password: 'changed' }))],
    ])('refuses a %s session on every protected route', async (_case, end) => {
      const user = await newUser();
      const tokens = await login(user);
      for (const path of protectedRoutes) await get(path, tokens.accessToken).expect(200);
      await end(t, user, tokens.sessionId);
      for (const path of protectedRoutes) expectRefused(await get(path, tokens.accessToken));
    });

    it('refuses an expired access token of a live session', async () => {
      const tokens = await login(await newUser());
      const { iat: _iat, exp: _exp, ...claims } = jsonwebtoken.decode(tokens.accessToken) as Record<string, unknown>;
      const expired = jsonwebtoken.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, DOCS_SECRET, { header: { alg: 'HS256', typ: 'at+jwt' } });
      for (const path of protectedRoutes) expectRefused(await get(path, expired));
      await get('/profile', tokens.accessToken).expect(200);
    });

    it('answers 503, never a pass, when the store cannot answer', async () => {
      const tokens = await login(await newUser());
      const { dataSource } = t;
      const createQueryBuilder = dataSource.createQueryBuilder;
      const findOneBy = dataSource.manager.findOneBy;
      const query = dataSource.query;
      (dataSource as any).createQueryBuilder = () => {
        throw new Error('connection refused');
      };
      (dataSource.manager as any).findOneBy = () => Promise.reject(new Error('connection refused'));
      (dataSource as any).query = () => Promise.reject(new Error('connection refused'));
      try {
        for (const path of protectedRoutes) expect((await get(path, tokens.accessToken)).status).toBe(503);
      } finally {
        (dataSource as any).createQueryBuilder = createQueryBuilder;
        (dataSource.manager as any).findOneBy = findOneBy;
        (dataSource as any).query = query;
      }
      await get('/profile', tokens.accessToken).expect(200);
    });

    describe('legacy tokens, inside the transition window', () => {
      it("pass on routes that need no session, as the app's user or marked legacy", async () => {
        const res = await get('/profile', legacyToken(1, 'john')).expect(200);
        expect(res.body).toEqual(adoption === 'guard' ? expect.objectContaining({ legacy: true, userId: 1, claims: expect.objectContaining({ username: 'john' }) }) : { userId: 1, username: 'john' });
        for (const path of passportRoutes) await get(path, legacyToken(1, 'john')).expect(200, { userId: 1, username: 'john' });
      });

      it('never pass where a session is needed', async () => {
        expectRefused(await get('/sessions', legacyToken(1, 'john')));
      });

      it('are exchanged for a real session (the refresh bridge)', async () => {
        const user = await newUser();
        const exchanged = await request(t.server).post('/auth/exchange').set('Authorization', `Bearer ${legacyToken(user.id, user.username)}`).expect(201);
        const sessions = await get('/sessions', exchanged.body.accessToken).expect(200);
        expect(sessions.body).toEqual([expect.objectContaining({ id: exchanged.body.sessionId, current: true })]);
        expect((await get('/profile', exchanged.body.accessToken).expect(200)).body).toEqual(appUser(user.id, 'exchanged'));
        // Only legacy tokens are exchanged: a library token is not.
        expect((await request(t.server).post('/auth/exchange').set('Authorization', `Bearer ${exchanged.body.accessToken}`)).status).toBe(401);
      });

      it.each([
        ['of a blocked user', async (t: DocsApp, user: DocsUser) => legacyToken(user.id, user.username, await t.sessions!.blockUser(user.id).then(() => ({})))],
        ['of an unknown user', async () => legacyToken(999_999, 'ghost')],
        ['signed with another key', async (_t: DocsApp, user: DocsUser) => legacyToken(user.id, user.username, { secret: 'another-secret-that-is-long-enough-01234567' })],
        ['expired', async (_t: DocsApp, user: DocsUser) => legacyToken(user.id, user.username, { expiresIn: -60 })],
        ['without exp', async (_t: DocsApp, user: DocsUser) => new JwtService({ secret: DOCS_SECRET }).sign({ sub: user.id })],
        ['alg none', async (_t: DocsApp, user: DocsUser) => jsonwebtoken.sign({ sub: user.id, exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none' })],
      ])('are refused when %s', async (_case, make) => {
        const token = await make(t, await newUser());
        for (const path of protectedRoutes) expectRefused(await get(path, token));
        expect((await request(t.server).post('/auth/exchange').set('Authorization', `Bearer ${token}`)).status).toBe(401);
      });

      it('are refused after invalidateAllSessions()', async () => {
        const user = await newUser();
        const token = legacyToken(user.id, user.username);
        await new Promise((resolve) => setTimeout(resolve, 1000)); // iat has a one-second resolution
        await t.sessions!.invalidateAllSessions();
        expectRefused(await get('/profile', token));
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await get('/profile', legacyToken(user.id, user.username)).expect(200);
      });
    });
  });
});

describe('the transition window', () => {
  it('ends by configuration: legacy tokens are refused and the startup says to remove the option', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const t = await createDocsApp(sqlite(), { adoption: 'strategy', legacyTokens: { secret: DOCS_SECRET, until: new Date(Date.now() - 1000).toISOString() } });
    try {
      expect(warn.mock.calls.map(([message]) => String(message))).toContainEqual(expect.stringMatching(/legacyTokens: the transition ended at .*Remove the legacyTokens option/));
      const user = await t.dataSource.getRepository(DocsUser).save({ username: 'late', password: 'x' });
      expectRefused(await request(t.server).get('/profile').set('Authorization', `Bearer ${legacyToken(user.id, 'late')}`));
      expect((await request(t.server).post('/auth/exchange').set('Authorization', `Bearer ${legacyToken(user.id, 'late')}`)).status).toBe(401);
    } finally {
      warn.mockRestore();
      await t.close();
    }
  });

  it('is closed without the option', async () => {
    const t = await createDocsApp(sqlite(), { adoption: 'strategy' });
    try {
      const user = await t.dataSource.getRepository(DocsUser).save({ username: 'new', password: 'x' });
      expectRefused(await request(t.server).get('/profile').set('Authorization', `Bearer ${legacyToken(user.id, 'new')}`));
    } finally {
      await t.close();
    }
  });
});

describe('a plain passport-jwt strategy next to the library', () => {
  const footgunWarnings = (warn: { mock: { calls: unknown[][] } }) =>
    warn.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('does not check session revocation'));

  it('is reported once at startup, because it accepts revoked tokens where @SkipSessionCheck() is set', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const t = await createDocsApp(sqlite(), { adoption: 'footgun' });
    try {
      expect(footgunWarnings(warn)).toEqual([expect.stringContaining("passport strategy 'jwt' (PlainJwtStrategy)")]);
      // Why: the same secret verifies the library's tokens, and passport-jwt knows nothing of revocation.
      const user = await t.dataSource.getRepository(DocsUser).save({ username: 'victim', password: 'x' });
      const { accessToken } = await t.sessions!.issue(user);
      await t.sessions!.invalidateSessions(user.id);
      await request(t.server).get('/skipped').set('Authorization', `Bearer ${accessToken}`).expect(200);
    } finally {
      warn.mockRestore();
      await t.close();
    }
  });

  it('is not reported once the app extends SessionJwtStrategy', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const t = await createDocsApp(sqlite(), { adoption: 'strategy' });
    try {
      expect(footgunWarnings(warn)).toEqual([]);
    } finally {
      warn.mockRestore();
      await t.close();
    }
  });
});
