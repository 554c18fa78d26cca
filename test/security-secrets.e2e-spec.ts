import { randomBytes } from 'node:crypto';
import { QueryFailedError } from 'typeorm';
import { SessionRevocationConfigError, SessionService, type SessionEvent } from '../lib/index.js';
import { createSampleApp } from '../sample/app.factory.js';
import type { SampleConfig } from '../sample/config.js';
import { testDatabases } from './support/databases.js';
import { captureLogs, keepAliveClient, SecretRegistry, type LogCapture, type RawResponse } from './support/security.js';
import { sampleUserSecrets, SECURITY_ADMIN, SECURITY_SAMPLE_SECRET, startSecuritySample, type SecuritySample } from './support/security-sample.js';
import { sampleDatabase } from './support/sample-app.js';
import { createTestApp, TEST_SECRET } from './support/test-app.js';

/**
 * Secrets never leak (OWASP ASVS 5.0 V7.2, V9; DESIGN invariant 10): a full session lifecycle on the
 * sample app - register, login, refresh, reuse, password and email change, device list, logout,
 * logout everywhere, admin block/unblock/revoke, refused logins, garbage tokens and a database
 * failure whose driver errors carry the query parameters - with every Nest Logger line (all
 * levels), stdout/stderr and console captured. None of the access tokens, refresh tokens,
 * per-user session tokens (read from the database), password hashes (every version), plaintext
 * passwords or the signing secret appears in a log line, an error body or a session event; the
 * session tokens, hashes, passwords and secret appear in no response at all.
 * Startup refuses weak secrets without echoing them.
 */

let logs: LogCapture;
beforeAll(() => {
  logs = captureLogs();
});
afterAll(() => logs?.stop());

it('the scanner finds what it must: whole tokens, a JWT signature alone, the prefix of an opaque token', () => {
  const registry = new SecretRegistry();
  const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.${randomBytes(32).toString('base64url')}`;
  const opaque = randomBytes(32).toString('base64url');
  registry.add('jwt', jwt);
  registry.add('opaque', opaque);
  expect(registry.findIn([`token=${jwt}`])).not.toEqual([]);
  expect(registry.findIn([`sig ${jwt.split('.')[2]} only`])).toEqual([{ secret: 'jwt (signature)', excerpt: expect.any(String) }]);
  expect(registry.findIn([`refresh ${opaque.slice(0, 24)}...`])).toEqual([{ secret: 'opaque (prefix)', excerpt: expect.any(String) }]);
  expect(registry.findIn(['nothing secret here'])).toEqual([]);
});

describe.each(testDatabases())('no secret in logs, error bodies or events: sample app lifecycle (%s)', (dbName, database) => {
  let s: SecuritySample;
  let client: ReturnType<typeof keepAliveClient>;
  const responses: Array<{ what: string } & RawResponse> = [];
  const events: SessionEvent[] = [];
  /** Credentials of any kind: never in a log, an event or an error body. */
  const tokens = new SecretRegistry();
  /** Never in anything the server says: session tokens, password hashes, passwords, the signing secret. */
  const hidden = new SecretRegistry();

  beforeAll(async () => {
    s = await startSecuritySample(database(), logs.logger);
    client = keepAliveClient(s.base, 8);
    s.app.get(SessionService).onEvent((e) => {
      events.push(e);
    });
    hidden.add('JWT secret', SECURITY_SAMPLE_SECRET);
    hidden.add('admin password', SECURITY_ADMIN.password);
  });
  afterAll(async () => {
    client?.close();
    await s?.close();
  });

  async function call(what: string, method: string, path: string, body?: unknown, token?: string): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await client.request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
    responses.push({ what, ...res });
    if (res.status < 300 && res.body.includes('refreshToken')) tokens.addTokens(what, JSON.parse(res.body));
    await snapshotDatabase();
    return res;
  }
  /** Every session token and password hash the database has held, read after each step. */
  async function snapshotDatabase() {
    for (const u of await sampleUserSecrets(s.dataSource)) {
      hidden.add(`user ${u.id} session token`, u.sessionToken);
      hidden.add(`user ${u.id} password hash`, u.passwordHash);
    }
  }
  const ok = (res: RawResponse, status: number) => {
    expect({ status: res.status, body: res.body.slice(0, 200) }).toMatchObject({ status });
    return res.body ? JSON.parse(res.body) : undefined;
  };

  it('runs the whole lifecycle, with a database failure, and leaks nothing', async () => {
    const pw = (label: string) => {
      const value = `${label}-${randomBytes(9).toString('base64url')}`;
      hidden.add(`${label} password`, value);
      return value;
    };
    const alice = { email: `alice-${randomBytes(3).toString('hex')}@example.com`, password: pw('alice') };
    const bob = { email: `bob-${randomBytes(3).toString('hex')}@example.com`, password: pw('bob') };
    ok(await call('register alice', 'POST', '/auth/register', alice), 201);
    const bobId = ok(await call('register bob', 'POST', '/auth/register', bob), 201).id;
    const a1 = ok(await call('login a1', 'POST', '/auth/login', alice), 200);
    const a2 = ok(await call('login a2', 'POST', '/auth/login', alice), 200);
    const a3 = ok(await call('login a3', 'POST', '/auth/login', alice), 200);
    const b1 = ok(await call('login b1', 'POST', '/auth/login', bob), 200);
    ok(await call('me', 'GET', '/me', undefined, a1.accessToken), 200);
    ok(await call('sessions', 'GET', '/sessions', undefined, a1.accessToken), 200);

    // Refresh, then reuse of the spent refresh token (theft detection ends a1's family, logged as a warning).
    const a1b = ok(await call('refresh a1', 'POST', '/auth/refresh', { refreshToken: a1.refreshToken }), 200);
    ok(await call('reuse a1', 'POST', '/auth/refresh', { refreshToken: a1.refreshToken }), 401);
    ok(await call('after reuse', 'GET', '/me', undefined, a1b.accessToken), 401);

    // Refused logins and garbage tokens.
    ok(await call('wrong password', 'POST', '/auth/login', { email: alice.email, password: pw('wrong') }), 401);
    ok(await call('unknown email', 'POST', '/auth/login', { email: `nobody-${alice.email}`, password: pw('unknown') }), 401);
    ok(await call('garbage token', 'GET', '/me', undefined, 'garbage.token.value'), 401);
    ok(await call('refresh as access', 'GET', '/me', undefined, a2.refreshToken), 401);
    ok(await call('access as refresh', 'POST', '/auth/refresh', { refreshToken: a2.accessToken.slice(0, 500) }), 401);

    // Email change and password change: new tokens for the device, every other session ends.
    const changed = ok(await call('email change', 'PATCH', '/me', { email: `new-${alice.email}`, currentPassword: alice.password }, a2.accessToken), 200);
    tokens.addTokens('email change', changed);
    ok(await call('wrong current password', 'POST', '/auth/password', { currentPassword: pw('nope'), newPassword: pw('never') }, changed.accessToken), 403);
    const newPassword = pw('alice-new');
    const renewed = ok(await call('password change', 'POST', '/auth/password', { currentPassword: alice.password, newPassword }, changed.accessToken), 200);
    ok(await call('old device after change', 'GET', '/me', undefined, a3.accessToken), 401);
    ok(await call('old refresh after change', 'POST', '/auth/refresh', { refreshToken: a3.refreshToken }), 401);
    const a4 = ok(await call('login a4', 'POST', '/auth/login', { email: `new-${alice.email}`, password: newPassword }), 200);
    ok(await call('revoke a4', 'DELETE', `/sessions/${a4.sessionId}`, undefined, renewed.accessToken), 204);
    ok(await call('logout-all keep current', 'POST', '/auth/logout-all', { keepCurrent: true }, renewed.accessToken), 204);

    // Admin: block (bob's tokens die, his login is refused and logged), unblock, revoke.
    const admin = ok(await call('admin login', 'POST', '/auth/login', SECURITY_ADMIN), 200);
    ok(await call('block bob', 'POST', `/admin/users/${bobId}/block`, undefined, admin.accessToken), 204);
    ok(await call('blocked bob me', 'GET', '/me', undefined, b1.accessToken), 401);
    ok(await call('blocked bob login', 'POST', '/auth/login', bob), 401);
    ok(await call('unblock bob', 'POST', `/admin/users/${bobId}/unblock`, undefined, admin.accessToken), 204);
    const b2 = ok(await call('login b2', 'POST', '/auth/login', bob), 200);
    ok(await call('revoke bob', 'POST', `/admin/users/${bobId}/revoke-sessions`, undefined, admin.accessToken), 204);
    ok(await call('non-admin', 'POST', `/admin/users/${bobId}/block`, undefined, renewed.accessToken), 403);

    // Logout: by refresh token, by access token, with garbage.
    const b3 = ok(await call('login b3', 'POST', '/auth/login', bob), 200);
    ok(await call('logout by refresh', 'POST', '/auth/logout', { refreshToken: b3.refreshToken }), 204);
    ok(await call('logout by access', 'POST', '/auth/logout', {}, renewed.accessToken), 204);
    ok(await call('logout garbage', 'POST', '/auth/logout', { refreshToken: 'garbage' }, 'garbage'), 204);

    // The database fails, with driver errors that carry the SQL parameters (the worst case).
    const c1 = ok(await call('login c1', 'POST', '/auth/login', { email: `new-${alice.email}`, password: newPassword }), 200);
    const driver = s.dataSource.driver as any;
    const createQueryRunner = driver.createQueryRunner;
    driver.createQueryRunner = function (this: unknown, ...args: unknown[]) {
      const runner = createQueryRunner.apply(this, args);
      return new Proxy(runner, {
        get(target, prop, receiver) {
          if (prop === 'query') {
            return async (sql: string, parameters: unknown[] = []) => {
              throw new QueryFailedError(sql, parameters, new Error(`connection lost while running ${sql} -- PARAMETERS: ${JSON.stringify(parameters)}`));
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      });
    };
    const duringOutage: Record<string, number> = {};
    try {
      for (const [what, method, path, body, token] of [
        ['outage me', 'GET', '/me', undefined, c1.accessToken],
        ['outage refresh', 'POST', '/auth/refresh', { refreshToken: c1.refreshToken }, undefined],
        ['outage logout', 'POST', '/auth/logout', { refreshToken: c1.refreshToken }, c1.accessToken],
        ['outage login', 'POST', '/auth/login', { email: bob.email, password: bob.password }, undefined],
        ['outage sessions', 'GET', '/sessions', undefined, c1.accessToken],
      ] as Array<[string, string, string, unknown, string | undefined]>) {
        const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
        if (token) headers.Authorization = `Bearer ${token}`;
        const res = await client.request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
        responses.push({ what, ...res });
        duringOutage[what] = res.status;
      }
    } finally {
      driver.createQueryRunner = createQueryRunner;
    }
    // Protected routes, the library's calls and the sample's own login query fail closed with 503.
    expect(duringOutage).toMatchObject({ 'outage me': 503, 'outage refresh': 503, 'outage sessions': 503, 'outage login': 503 });
    expect([204, 503]).toContain(duringOutage['outage logout']);
    expect(logs.logger.lines.some((l) => l.includes('session store unavailable'))).toBe(true);
    ok(await call('after outage', 'GET', '/me', undefined, c1.accessToken), 200);
    process.stderr.write(`\nsecurity-secrets outage statuses (${dbName}): ${JSON.stringify(duringOutage)}\n`);

    await new Promise((resolve) => setImmediate(resolve)); // let event listeners run
    await snapshotDatabase();

    // Everything was seen.
    expect(tokens.size).toBeGreaterThanOrEqual(30);
    expect(hidden.size).toBeGreaterThanOrEqual(10);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['login', 'refresh', 'reuse-detected', 'logout', 'revoke', 'invalidate', 'block', 'unblock']));
    expect(logs.logger.lines.some((l) => l.includes('session.reuse-detected'))).toBe(true);
    expect(logs.logger.lines.some((l) => /login refused for blocked user=/.test(l))).toBe(true);

    const logLines = logs.all();
    const errorBodies = responses.filter((r) => r.status >= 400).map((r) => `${r.what}: ${r.body}`);
    const everyResponse = responses.map((r) => `${r.what}: ${JSON.stringify(r.headers)} ${r.body}`);
    const eventTexts = events.map((e) => JSON.stringify(e));
    process.stderr.write(
      `\nsecurity-secrets figures (${dbName}): ${JSON.stringify({ credentials: tokens.size, hiddenValues: hidden.size, logLines: logLines.length, responses: responses.length, errorBodies: errorBodies.length, events: events.length })}\n`,
    );
    expect(tokens.findIn([...logLines, ...errorBodies, ...eventTexts])).toEqual([]);
    expect(hidden.findIn([...logLines, ...everyResponse, ...eventTexts])).toEqual([]);
    void b2;
  });
});

describe('startup refuses weak secrets, without echoing them', () => {
  const weak: Array<[string, unknown]> = [
    ['empty string', ''],
    ['undefined', undefined],
    ['null', null],
    ['5 bytes', 'short'],
    ['31 bytes', 'x'.repeat(31)],
    ['31-byte Buffer', randomBytes(31)],
    ['31 bytes in 16 two-byte characters minus one', 'é'.repeat(15) + 'x'],
    ['32 times the same byte', 'a'.repeat(32)],
    ['a placeholder repeated', 'changeme'.repeat(4)],
    ['a phrase repeated', 'my-jwt-secret-'.repeat(3)],
    ['a 48-byte Buffer of one value', Buffer.alloc(48, 1)],
  ];

  it.each(weak)('HS256 with a %s secret: the app does not start', async (_name, secret) => {
    const start = createTestApp(testDatabases()[0][1](), { options: { jwt: { secret: secret as any, issuer: 'test', audience: 'test' } } });
    const error = await start.then(
      async (t) => {
        await t.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionRevocationConfigError);
    expect((error as Error).message).toMatch(/jwt\.secret/);
    if (typeof secret === 'string' && secret.length > 0) expect((error as Error).message).not.toContain(secret.slice(0, 16));
    if (typeof secret === 'string' && secret.length > 0) expect(logs.all().some((l) => l.includes(secret))).toBe(false);
  });

  it.each([
    ['a 31-byte fingerprint secret', { secret: TEST_SECRET, fingerprintSecret: 'f'.repeat(31) }, /jwt\.fingerprintSecret/],
    ['alg none', { secret: TEST_SECRET, algorithm: 'none' }, /jwt\.algorithm/],
    ['RS256 without keys', { algorithm: 'RS256' }, /jwt\.privateKey/],
  ])('%s: the app does not start', async (_name, jwt, message) => {
    const error = await createTestApp(testDatabases()[0][1](), { options: { jwt: jwt as any } }).then(
      async (t) => (await t.close(), undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionRevocationConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('f'.repeat(31));
  });

  it('a 32-byte secret is the minimum that starts', async () => {
    const t = await createTestApp(testDatabases()[0][1](), { options: { jwt: { secret: 'zyxwvutsrqponmlkjihgfedcba012345', issuer: 'test', audience: 'test' } } });
    await t.close();
  });

  it('the sample app refuses a short JWT_SECRET at startup', async () => {
    const config: SampleConfig = { port: 0, database: await sampleDatabase(testDatabases()[0][1]()), jwtSecret: 'too-short-secret', authRateLimitPerIp: 0 };
    const error = await createSampleApp(config, { logger: logs.logger }).then(
      async (app) => (await app.close(), undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionRevocationConfigError);
    expect((error as Error).message).not.toContain('too-short-secret');
    expect(logs.all().some((l) => l.includes('too-short-secret'))).toBe(false);
  });
});
