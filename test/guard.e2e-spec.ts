import request from 'supertest';
import { testDatabases } from './support/databases.js';
import { createTestApp, TestUser, type TestApp } from './support/test-app.js';

describe.each([['express'], ['fastify']] as const)('SessionGuard over %s', (adapter) => {
  let t: TestApp;
  let server: any;
  let userId: number;
  let token: string;

  beforeAll(async () => {
    t = await createTestApp(testDatabases()[0][1](), { adapter });
    server = t.app.getHttpServer();
    const user = await t.dataSource.getRepository(TestUser).save({ email: `${adapter}@example.com`, passwordHash: 'h' });
    userId = user.id;
    token = (await t.sessions.issue(userId)).accessToken;
  });
  afterAll(() => t?.close());

  const expectRefused = (res: request.Response, challenge = 'Bearer error="invalid_token"') => {
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ statusCode: 401, message: 'Unauthorized' });
    expect(res.headers['www-authenticate']).toBe(challenge);
  };

  it('lets a valid token through and hands the handler its session', async () => {
    const res = await request(server).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(res.body).toMatchObject({ userId, sessionId: expect.any(String) });
  });

  it('accepts the scheme in any casing', async () => {
    await request(server).get('/me').set('Authorization', `bearer ${token}`).expect(200);
  });

  it('answers a missing header with a plain Bearer challenge', async () => {
    expectRefused(await request(server).get('/me'), 'Bearer');
  });

  // Hostile tokens and headers (alg none, forged claims, other keys, JWE, oversized, repeated
  // headers, query string, deleted users...) are one table in security-tokens.e2e-spec.ts.

  it('lets @SkipSessionCheck routes through without a token', async () => {
    await request(server).get('/public').expect(200, { ok: true });
  });

  it('refuses every token of a user after invalidateSessions, at once', async () => {
    const user = await t.dataSource.getRepository(TestUser).save({ email: `inv-${adapter}@example.com`, passwordHash: 'h' });
    const a = (await t.sessions.issue(user.id)).accessToken;
    const b = (await t.sessions.issue(user.id)).accessToken;
    await request(server).get('/me').set('Authorization', `Bearer ${a}`).expect(200);
    await t.sessions.invalidateSessions(user.id);
    expectRefused(await request(server).get('/me').set('Authorization', `Bearer ${a}`));
    expectRefused(await request(server).get('/me').set('Authorization', `Bearer ${b}`));
    const fresh = (await t.sessions.issue(user.id)).accessToken;
    await request(server).get('/me').set('Authorization', `Bearer ${fresh}`).expect(200);
  });
});

describe('SessionGuard when the store cannot answer', () => {
  it('answers 503, never a pass, and recovers', async () => {
    const t = await createTestApp(testDatabases()[0][1]());
    try {
      const user = await t.dataSource.getRepository(TestUser).save({ email: 'down@example.com', passwordHash: 'h' });
      const { accessToken } = await t.sessions.issue(user.id);
      const server = t.app.getHttpServer();
      const realQuery = t.dataSource.createQueryBuilder;
      (t.dataSource as any).createQueryBuilder = () => {
        throw new Error('connection refused');
      };
      const findOneBy = t.dataSource.manager.findOneBy;
      (t.dataSource.manager as any).findOneBy = () => Promise.reject(new Error('connection refused'));
      const realRawQuery = t.dataSource.query;
      (t.dataSource as any).query = () => Promise.reject(new Error('connection refused'));
      const res = await request(server).get('/me').set('Authorization', `Bearer ${accessToken}`);
      expect(res.status).toBe(503);
      expect(JSON.stringify(res.body)).not.toContain(accessToken);
      (t.dataSource as any).createQueryBuilder = realQuery;
      (t.dataSource.manager as any).findOneBy = findOneBy;
      (t.dataSource as any).query = realRawQuery;
      await request(server).get('/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
    } finally {
      await t.close();
    }
  });
});
