import { HttpException } from '@nestjs/common';
import bcrypt from 'bcryptjs';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource, QueryFailedError } from 'typeorm';
import { createSampleApp } from '../sample/app.factory.js';
import { AuthRateLimiter, clientKey } from '../sample/auth/auth-rate-limit.guard.js';
import { isDatabaseUnavailable } from '../sample/common/database-errors.js';
import type { SampleConfig, SampleDatabaseOptions } from '../sample/config.js';
import { HASH_CONCURRENCY, MAX_WAITING_HASHES, PasswordHasher } from '../sample/users/password-hasher.js';
import { User } from '../sample/users/user.entity.js';
import { EventsController } from '../sample/web/events.controller.js';
import { testDatabases, type TestDatabase } from './support/databases.js';
import { SAMPLE_JWT_SECRET, sampleClient, sampleDatabase, startSample, uniqueEmail, type SampleApp } from './support/sample-app.js';
import { CapturingLogger, listen } from './support/security.js';
import { openSse, type SseStream } from './support/sse.js';

/** What every argon2id hash of the sample starts with (OWASP's 19 MiB, 2 passes, 1 lane). */
const ARGON2ID_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';

const userRow = (s: SampleApp, email: string) => s.dataSource.getRepository(User).findOneByOrFail({ email });

describe.each(testDatabases())('sample hardening (%s)', (_name, database) => {
  let s: SampleApp;
  let api: ReturnType<typeof sampleClient>;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    s = await startSample(database(), { logger });
    api = sampleClient(s.server);
  });
  afterAll(() => s?.close());

  describe('password policy (ASVS 6.2.4, 6.2.11)', () => {
    const email = uniqueEmail('policy');
    it.each([
      ['password', 'is too easy to guess'],
      ['12345678', 'is too easy to guess'],
      ['aaaaaaaa', 'is too easy to guess'],
      ['qwerty123', 'is too easy to guess'],
      [email, 'must not contain your email address'],
      [`${email.split('@')[0].toUpperCase()}!7x`, 'must not contain your email address'],
    ])('register refuses %j with 400 and a clear message, and creates nothing', async (password, reason) => {
      const res = await api.register(email, password).expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [expect.stringContaining(`password ${reason}`)] });
      // (Not by a login: wrong passwords of one account are throttled after three.)
      expect(await s.dataSource.getRepository(User).findOneBy({ email })).toBeNull();
    });

    it('accepts a strong password, and the email was still free', async () => {
      await api.register(email, 'tangerine-lighthouse-47').expect(201);
      await api.login(email, 'tangerine-lighthouse-47').expect(200);
    });

    it('POST /auth/password refuses a weak newPassword (400 naming the field) and keeps the old one', async () => {
      const { email: mine, password, tokens } = await api.newUser();
      for (const newPassword of ['password', '12345678', 'aaaaaaaa', mine]) {
        const res = await request(s.server).post('/auth/password').set(api.bearer(tokens.accessToken)).send({ currentPassword: password, newPassword }).expect(400);
        expect(res.body.message).toEqual([expect.stringMatching(/^newPassword (is too easy to guess|must not contain your email address)/)]);
      }
      await api.me(tokens.accessToken).expect(200);
      await api.login(mine, password).expect(200);
    });
  });

  describe('password hashing', () => {
    it('stores argon2id with the OWASP parameters', async () => {
      const { email } = await api.newUser();
      expect((await userRow(s, email)).passwordHash.startsWith(ARGON2ID_PREFIX)).toBe(true);
    });

    it('a legacy bcryptjs hash still logs in and is rehashed to argon2id; a wrong password changes nothing', async () => {
      const email = uniqueEmail('legacy');
      const password = 'legacy-account-passphrase-3';
      // What earlier versions stored: bcryptjs over the base64 SHA-256 of the password.
      const legacy = await bcrypt.hash(createHash('sha256').update(password).digest('base64'), 4);
      await s.dataSource.getRepository(User).save({ email, passwordHash: legacy });

      await api.login(email, 'not-the-password-9').expect(401);
      expect((await userRow(s, email)).passwordHash).toBe(legacy);

      const first = await api.loginOk(email, password);
      await api.me(first.accessToken).expect(200);
      const upgraded = (await userRow(s, email)).passwordHash;
      expect(upgraded.startsWith(ARGON2ID_PREFIX)).toBe(true);

      // The new hash verifies; a current hash is not rewritten again.
      await api.loginOk(email, password);
      expect((await userRow(s, email)).passwordHash).toBe(upgraded);
      await api.login(email, 'not-the-password-9').expect(401);
    });
  });

  describe('database outages answer 503 with one short log line', () => {
    const outage = (code: string, fields: Record<string, unknown> = {}) =>
      Object.assign(new Error(`FATAL while running SELECT * FROM users -- PARAMETERS: ["victim@example.com"]`), { code, ...fields });

    it.each([
      ['PostgreSQL 55000 (database not accepting connections)', outage('55000')],
      ['PostgreSQL 55P03 (lock not available)', outage('55P03')],
      ['PostgreSQL 08006 (connection failure)', outage('08006')],
      ['MariaDB PROTOCOL_CONNECTION_LOST', outage('PROTOCOL_CONNECTION_LOST', { fatal: true })],
      ['MariaDB ER_CON_COUNT_ERROR', outage('ER_CON_COUNT_ERROR', { errno: 1040, sqlState: '08004' })],
      ['ECONNREFUSED', outage('ECONNREFUSED')],
    ])('register during %s: 503, the log names the code only', async (_case, error) => {
      // Registration's first query is the sample's own (a login's is the library's failed-attempt check).
      const status = await duringFailure(s, error, async () => {
        logger.lines.length = 0;
        const res = await api.register(uniqueEmail('outage'), 'tangerine-lighthouse-47');
        expect(res.body).toEqual({ statusCode: 503, message: 'Service Unavailable' });
        return res.status;
      });
      expect(status).toBe(503);
      const lines = logger.lines.filter((l) => l.includes('Database'));
      expect(lines).toEqual([expect.stringContaining(`database unavailable, answering 503 (Error ${(error as { code: string }).code})`)]);
      expect(logger.lines.join('\n')).not.toMatch(/SELECT|PARAMETERS|victim@example\.com/);
      await api.register(uniqueEmail('outage'), 'tangerine-lighthouse-47').expect(201); // recovered
    });

    it('login during an outage: 503 (the library fails closed)', async () => {
      const res = await duringFailure(s, outage('08006'), () => api.login('victim@example.com', 'whatever-password-1'));
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ statusCode: 503, message: 'Service Unavailable' });
    });

    it('a driver error that is not an outage stays a 500', async () => {
      expect(await duringFailure(s, outage('42601'), async () => (await api.register(uniqueEmail('outage'), 'tangerine-lighthouse-47')).status)).toBe(500);
    });
  });
});

/** Runs `body` while every query of `s` fails with `error`, thrown raw (as the drivers' connection errors reach the app). */
async function duringFailure<T>(s: SampleApp, error: Error, body: () => Promise<T>): Promise<T> {
  const driver = s.dataSource.driver as any;
  const createQueryRunner = driver.createQueryRunner;
  driver.createQueryRunner = function (this: unknown, ...args: unknown[]) {
    const runner = createQueryRunner.apply(this, args);
    return new Proxy(runner, {
      get: (target, prop, receiver) => (prop === 'query' ? async () => Promise.reject(error) : Reflect.get(target, prop, receiver)),
    });
  };
  try {
    return await body();
  } finally {
    driver.createQueryRunner = createQueryRunner;
  }
}

describe('isDatabaseUnavailable', () => {
  const withCode = (code: string, fields: Record<string, unknown> = {}) => Object.assign(new Error('x'), { code, ...fields });
  it.each([
    ['55000', withCode('55000')],
    ['55006', withCode('55006')],
    ['08001', withCode('08001')],
    ['53300', withCode('53300')],
    ['57P01', withCode('57P01')],
    ['ECONNRESET', withCode('ECONNRESET')],
    ['ER_CON_COUNT_ERROR', withCode('ER_CON_COUNT_ERROR')],
    ['PROTOCOL_CONNECTION_LOST', withCode('PROTOCOL_CONNECTION_LOST')],
    ['mysql2 fatal', withCode('UNKNOWN_CODE', { fatal: true })],
    ['MySQL sqlState 08S01', withCode('ER_NET_PACKETS_OUT_OF_ORDER', { sqlState: '08S01' })],
    ['a TypeORM QueryFailedError', new QueryFailedError('SELECT 1', [], new Error('x'))],
  ])('an outage: %s', (_case, error) => expect(isDatabaseUnavailable(error)).toBe(true));

  it.each([
    ['23505 unique violation (raw)', withCode('23505')],
    ['42601 syntax error (raw)', withCode('42601')],
    ['ER_DUP_ENTRY', withCode('ER_DUP_ENTRY', { sqlState: '23000' })],
    ['a plain Error', new Error('bug')],
    ['an HttpException', new HttpException('no', 400)],
    ['not an Error', { code: '55000' }],
  ])('not an outage: %s', (_case, error) => expect(isDatabaseUnavailable(error)).toBe(false));
});

describe.each(testDatabases())('per-IP rate limit of the auth routes (%s)', (_name, database) => {
  let s: SampleApp;
  let api: ReturnType<typeof sampleClient>;
  beforeAll(async () => {
    s = await startSample(database(), { authRateLimitPerIp: 4 });
    api = sampleClient(s.server);
  });
  afterAll(() => s?.close());

  it('past AUTH_RATE_LIMIT_PER_IP requests a minute, every auth route answers 429 with Retry-After; other routes do not count', async () => {
    const email = uniqueEmail('limited');
    const password = 'tangerine-lighthouse-47';
    await api.register(email, password).expect(201); // 1
    const tokens = await api.loginOk(email, password); // 2
    await request(s.server).get('/health').expect(200);
    await api.me(tokens.accessToken).expect(200);
    await request(s.server).patch('/me').set(api.bearer(tokens.accessToken)).send({ email, currentPassword: 'wrong-password-0' }).expect(403); // 3
    await api.login(email, 'wrong-password-0').expect(401); // 4

    for (const res of [
      await api.login(email, password),
      await api.register(uniqueEmail(), password),
      await api.refresh(tokens.refreshToken),
      await request(s.server).post('/auth/password').set(api.bearer(tokens.accessToken)).send({ currentPassword: password, newPassword: `${password}-2` }),
      await request(s.server).patch('/me').set(api.bearer(tokens.accessToken)).send({ email: uniqueEmail(), currentPassword: password }),
    ]) {
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(res.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: `Too many sign-in requests from this address: try again in ${retryAfter} s` });
    }
    // Nothing changed while refused, and the rest of the API is not limited.
    await api.me(tokens.accessToken).expect(200);
    await request(s.server).get('/health').expect(200);
  });
});

describe('the per-IP limit off (AUTH_RATE_LIMIT_PER_IP=0, as the other suites run)', () => {
  let s: SampleApp;
  beforeAll(async () => (s = await startSample(testDatabases()[0][1]())));
  afterAll(() => s?.close());

  it('30 failed logins from one IP all answer 401', async () => {
    const api = sampleClient(s.server);
    const statuses = [];
    // One account each: wrong passwords of one account are throttled after three (LoginAttempts).
    for (let i = 0; i < 30; i++) statuses.push((await api.login(`nobody-${i}@example.com`, `wrong-password-${i}`)).status);
    expect(new Set(statuses)).toEqual(new Set([401]));
  });
});

describe('PasswordHasher under a flood of logins', () => {
  it(`computes ${HASH_CONCURRENCY} hash(es) at a time, keeps ${MAX_WAITING_HASHES} waiting and answers the rest 503 at once`, async () => {
    const hasher = new PasswordHasher();
    await hasher.onModuleInit();
    const stored = await hasher.hash('correct horse battery staple');
    let running = 0;
    let most = 0;
    const counted = <T>(work: Promise<T>) => {
      running++;
      most = Math.max(most, running);
      return work.finally(() => running--);
    };
    // More than can wait: wrong passwords (unknown emails burn a dummy hash) and one right one.
    const attempts = Array.from({ length: HASH_CONCURRENCY + MAX_WAITING_HASHES + 20 }, (_, i) => (i === 3 ? hasher.verify('correct horse battery staple', stored) : hasher.burn(`wrong-${i}`)));
    // How many hashes compute at once, sampled while the flood is served.
    const limit = (hasher as unknown as { limit: { activeCount: number } }).limit;
    let mostComputing = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        mostComputing = Math.max(mostComputing, limit.activeCount);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const settled = await Promise.allSettled(attempts.map(counted));
    done = true;
    await sampler;
    expect(mostComputing).toBe(HASH_CONCURRENCY);
    const refused = settled.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(20);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(HttpException);
    expect(((refused[0] as PromiseRejectedResult).reason as HttpException).getStatus()).toBe(503);
    expect(settled[3]).toEqual({ status: 'fulfilled', value: true });
    expect(most).toBeGreaterThan(MAX_WAITING_HASHES); // they were all in flight together...
    // ...and afterwards the hasher works normally again.
    await expect(hasher.verify('correct horse battery staple', stored)).resolves.toBe(true);
  }, 60_000);
});

describe('AuthRateLimiter', () => {
  const limiter = (limit: number) => new AuthRateLimiter({ authRateLimitPerIp: limit } as SampleConfig);

  it('counts per IP in one-minute windows and tells the seconds left', () => {
    const l = limiter(2);
    const t0 = 1_000_000;
    expect([l.hit('10.0.0.1', t0), l.hit('10.0.0.1', t0 + 1), l.hit('10.0.0.1', t0 + 15_000)]).toEqual([0, 0, 45]);
    expect(l.hit('10.0.0.2', t0 + 15_000)).toBe(0);
    expect(l.hit('10.0.0.1', t0 + 59_999)).toBe(1);
    expect(l.hit('10.0.0.1', t0 + 60_000)).toBe(0);
  });

  it('0 turns it off', () => {
    const l = limiter(0);
    expect(Array.from({ length: 100 }, () => l.hit('10.0.0.1'))).toEqual(Array(100).fill(0));
  });

  it('keys IPv4-mapped addresses as IPv4 and IPv6 by /64', () => {
    expect(clientKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});

describe.each(testDatabases())('ADMIN_EMAIL never takes over an account it did not create (%s)', (name, database) => {
  let db: TestDatabase;
  let shared: SampleDatabaseOptions;
  const file = join(tmpdir(), `sample-admin-${randomBytes(6).toString('hex')}.sqlite`);
  beforeAll(async () => {
    db = database();
    // Two starts on one database: SQLite in a file (an in-memory one is private to its connection).
    shared = name === 'sqlite' ? { type: 'better-sqlite3', database: file } : await sampleDatabase(db);
  });
  afterAll(async () => {
    await db.cleanup();
    rmSync(file, { force: true });
  });

  const config = (admin?: { email: string; password: string }): SampleConfig => ({ port: 0, database: shared, jwtSecret: SAMPLE_JWT_SECRET, admin, authRateLimitPerIp: 0 });
  const startError = (admin: { email: string; password: string }) =>
    createSampleApp(config(admin), { logger: false }).then(
      async (app) => (await app.close(), undefined),
      (error: unknown) => error as Error,
    );

  it('refuses to start over an existing non-admin account, which stays as it was', async () => {
    const app = await createSampleApp(config(), { logger: false });
    const api = sampleClient(app.getHttpServer());
    const boss = { email: uniqueEmail('boss'), password: 'tangerine-lighthouse-47' };
    try {
      await api.register(boss.email, boss.password).expect(201);
    } finally {
      await app.close();
    }
    for (const password of [boss.password, 'another-operator-key-9']) {
      const error = await startError({ email: boss.email, password });
      expect(error?.message).toMatch(/^ADMIN_EMAIL belongs to an existing account that is not an admin: refusing to start/);
      expect(error!.message).not.toContain(password);
    }
    const again = await createSampleApp(config(), { logger: false });
    try {
      expect((await again.get(DataSource).getRepository(User).findOneByOrFail({ email: boss.email })).role).toBe('user');
    } finally {
      await again.close();
    }
  });

  it('starts again over the admin it seeded, and refuses when ADMIN_PASSWORD is not that admin’s password', async () => {
    const admin = { email: uniqueEmail('root'), password: 'seeded-operator-key-1' };
    await createSampleApp(config(admin), { logger: false }).then((app) => app.close());
    await createSampleApp(config(admin), { logger: false }).then((app) => app.close());
    const error = await startError({ email: admin.email, password: 'changed-operator-key-2' });
    expect(error?.message).toMatch(/^ADMIN_PASSWORD does not match the existing admin account's password: refusing to start/);
    expect(error!.message).not.toContain('changed-operator-key-2');
  });

  it('refuses a weak ADMIN_PASSWORD by the password policy, without echoing it', async () => {
    const error = await startError({ email: uniqueEmail('weak'), password: 'password1' });
    expect(error?.message).toMatch(/^ADMIN_PASSWORD is refused by the password policy: password is too easy to guess/);
    expect(error!.message).not.toContain('password1');
  });
});

describe('GET /events: at most limits.perUser streams per account', () => {
  let s: SampleApp;
  let base: string;
  const open: SseStream[] = [];
  beforeAll(async () => {
    s = await startSample(testDatabases()[0][1]());
    base = await listen(s.app);
  });
  afterAll(async () => {
    for (const stream of open) stream.close();
    await s?.close();
  });
  const sse = async (accessToken: string) => {
    const stream = await openSse(`${base}/events`, { Authorization: `Bearer ${accessToken}` });
    open.push(stream);
    return stream;
  };

  it('16 streams over 4 sessions of one account; a 5th session is refused 429, another account is not; closing one frees a slot', async () => {
    const api = sampleClient(s.server);
    const { email, password, tokens } = await api.newUser();
    const sessions = [tokens, ...(await Promise.all([1, 2, 3, 4].map(() => api.loginOk(email, password))))];
    const mine: SseStream[] = [];
    for (const session of sessions.slice(0, 4)) {
      for (let i = 0; i < 4; i++) {
        const stream = await sse(session.accessToken);
        expect(stream.status).toBe(200);
        await stream.next('ready');
        mine.push(stream);
      }
    }
    const refused = await sse(sessions[4].accessToken);
    await refused.ended;
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text())).toEqual({
      statusCode: 429,
      message: 'Too many open event streams for this account (at most 16): close a tab or window of this account on any device first',
      error: 'Too Many Requests',
    });
    const other = await api.newUser();
    const theirs = await sse(other.tokens.accessToken);
    expect(theirs.status).toBe(200);
    await theirs.next('ready');

    const controller = s.app.get(EventsController);
    expect(controller.openStreams).toBe(17);
    mine[0].close();
    for (const deadline = Date.now() + 3000; controller.openStreams > 16 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const reopened = await sse(sessions[4].accessToken);
    expect(reopened.status).toBe(200);
    await reopened.next('ready');
  });
});
