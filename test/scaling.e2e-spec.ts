import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { installSessionTokenTrigger, type SessionRevocationModuleOptions } from '../lib/index.js';
import { RevocationNotifier } from '../lib/bus/revocation-notifier.js';
import {
  ENTITIES,
  eventually,
  postgresSchema,
  postgresUrl,
  RedisProcess,
  redisServerAvailable,
  redisUrl,
  sharedDatabases,
  sleep,
  startInstance,
  warnSkipped,
  type Instance,
  type SharedDatabase,
} from './support/scaling.js';
import { TestUser } from './support/test-app.js';

/** 'returned' when `call` settles within `ms`, otherwise a note that it is still waiting (a liveness check, not a timing goal). */
async function returnsWithin(call: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    call.then(() => 'returned'),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`still waiting after ${ms} ms`), ms))),
  ]);
  clearTimeout(timer);
  return outcome;
}

/**
 * Several instances of one app sharing one database (and one bus): what one instance revokes,
 * every other refuses, within the documented bound.
 */

const me = (instance: Instance, token: string) => request(instance.server).get('/me').set('Authorization', `Bearer ${token}`);

let emailCounter = 0;
async function newUser(instance: Instance): Promise<number> {
  const user = await instance.dataSource
    .getRepository(TestUser)
    .save({ email: `scaling-${Date.now().toString(36)}-${emailCounter++}@example.com`, passwordHash: 'h' });
  return user.id;
}

/** Logs in on `instance` and makes one request on `cachedOn` so that instance caches the session. */
async function loginAndCache(issuer: Instance, cachedOn: Instance): Promise<{ userId: number; sessionId: string; token: string }> {
  const userId = await newUser(issuer);
  const { accessToken: token, sessionId } = await issuer.sessions.issue(userId);
  await me(cachedOn, token).expect(200);
  return { userId, sessionId, token };
}

/** Polls `instance` with `token` until it answers 401; every answer must be 200 or 401. */
async function refusedWithin(instance: Instance, token: string, timeoutMs: number) {
  const statuses = new Set<number>();
  const result = await eventually(
    async () => {
      const status = (await me(instance, token)).status;
      statuses.add(status);
      return status === 401;
    },
    timeoutMs,
    5,
  );
  return { ...result, statuses: [...statuses].sort() };
}

type Revocation = (instance: Instance, userId: number, sessionId: string) => Promise<unknown>;

/** The ways an instance ends sessions; `invalidateAllSessions` ends everybody's, so it runs last. */
const REVOCATIONS: Array<[string, Revocation]> = [
  ['invalidateSessions', (i, userId) => i.sessions.invalidateSessions(userId)],
  ['revokeSession', (i, userId, sessionId) => i.sessions.revokeSession(userId, sessionId)],
  ['blockUser', (i, userId) => i.sessions.blockUser(userId)],
  ['a password change through repository.update', (i, userId) => i.dataSource.getRepository(TestUser).update(userId, { passwordHash: 'changed' })],
  ['invalidateAllSessions', (i) => i.sessions.invalidateAllSessions()],
];

const busUp = (...instances: Instance[]) => eventually(() => instances.every((i) => !i.notifier.cache.bypassed), 10_000);
const busDown = (...instances: Instance[]) => eventually(() => instances.every((i) => i.notifier.cache.bypassed), 10_000);
const channelName = () => `scal_${randomBytes(6).toString('hex')}`;

// ---------------------------------------------------------------------------------------------
// With a bus: the other instance drops its cached entry when the message arrives.
// ---------------------------------------------------------------------------------------------

interface BusCase {
  bus: 'redis' | 'postgresNotify';
  db: string;
  database: () => Promise<SharedDatabase>;
  options: (channel: string) => Partial<SessionRevocationModuleOptions>;
}

const busCases: BusCase[] = [];
if (redisUrl) {
  for (const [db, database] of sharedDatabases()) {
    busCases.push({ bus: 'redis', db, database, options: (channel) => ({ redis: { url: redisUrl!, channel } }) });
  }
} else {
  warnSkipped('Redis', 'set CI=1 or TEST_REDIS_URL=redis://... to run them');
}
if (postgresUrl) {
  busCases.push({ bus: 'postgresNotify', db: 'postgres', database: () => postgresSchema(postgresUrl!), options: (channel) => ({ postgresNotify: { channel } }) });
}

for (const busCase of busCases) {
  describe(`two instances, ${busCase.bus} bus, ${busCase.db}`, () => {
    let db: SharedDatabase;
    let one: Instance;
    let two: Instance;
    let channel: string;

    beforeAll(async () => {
      db = await busCase.database();
      channel = channelName();
      one = await startInstance(db.options(true), busCase.options(channel));
      two = await startInstance(db.options(false), busCase.options(channel));
      if (busCase.bus === 'postgresNotify') await installSessionTokenTrigger(one.dataSource, TestUser, { notifyChannel: channel });
      expect(await busUp(one, two)).toMatchObject({ ok: true });
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await db?.cleanup();
    });

    it('serves repeated checks from the cache while the bus is up', async () => {
      const { userId, token } = await loginAndCache(one, two);
      expect(two.notifier.cache.getUser(String(userId))).toBeDefined();
      await me(two, token).expect(200);
    });

    it.each(REVOCATIONS)('%s on instance 1: instance 2 refuses the cached session within 1 s', async (_name, revoke) => {
      const { userId, sessionId, token } = await loginAndCache(one, two);
      expect(two.notifier.cache.getUser(String(userId))).toBeDefined();
      await revoke(one, userId, sessionId);
      // The revoking instance dropped its own entry before the call returned.
      await me(one, token).expect(401);
      const result = await refusedWithin(two, token, 1000);
      expect(result).toMatchObject({ ok: true });
      expect(result.statuses.every((s) => s === 200 || s === 401)).toBe(true);
    });

    if (busCase.bus === 'postgresNotify') {
      it('a raw SQL password change (trigger installed): both instances refuse within 1 s', async () => {
        const { userId, token } = await loginAndCache(one, two);
        await me(one, token).expect(200);
        await one.dataSource.query('UPDATE "users" SET "passwordHash" = $1 WHERE "id" = $2', ['raw-sql-change', userId]);
        expect(await refusedWithin(two, token, 1000)).toMatchObject({ ok: true });
        expect(await refusedWithin(one, token, 1000)).toMatchObject({ ok: true });
      });
    }

    if (busCase.db === 'postgres') {
      it('a password change inside a transaction: instance 2 re-reading the old row mid-transaction still refuses after commit', async () => {
        const { userId, token } = await loginAndCache(one, two);
        await one.dataSource.transaction(async (manager) => {
          await manager.getRepository(TestUser).update(userId, { passwordHash: 'in-transaction' });
          // Not committed yet: instance 2 may read (and cache) the old token meanwhile.
          await sleep(100);
          await me(two, token).expect(200);
        });
        expect(await refusedWithin(two, token, 1000)).toMatchObject({ ok: true });
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// No bus: the cache TTL is the bound. Strict mode: no bound needed.
// ---------------------------------------------------------------------------------------------

describe.each(sharedDatabases())('two instances without a bus, %s', (_name, database) => {
  describe("cache on, ttl '300ms'", () => {
    const TTL = 300;
    let db: SharedDatabase;
    let one: Instance;
    let two: Instance;

    beforeAll(async () => {
      db = await database();
      one = await startInstance(db.options(true), { cache: { ttl: `${TTL}ms` } });
      two = await startInstance(db.options(false), { cache: { ttl: `${TTL}ms` } });
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await db?.cleanup();
    });

    it.each(REVOCATIONS)('%s on instance 1: instance 2 may accept within the TTL and refuses after it', async (_name, revoke) => {
      const userId = await newUser(one);
      const { accessToken: token, sessionId } = await one.sessions.issue(userId);
      const before = Date.now();
      await me(two, token).expect(200);
      const cachedBy = Date.now(); // the entry was written between `before` and now
      await revoke(one, userId, sessionId);
      await me(one, token).expect(401);
      const stale = await me(two, token);
      if (Date.now() - before < TTL) {
        // Still within the TTL of instance 2's entry: it is served from the cache.
        expect(stale.status).toBe(200);
      } else {
        expect([200, 401]).toContain(stale.status);
      }
      await sleep(Math.max(0, cachedBy + TTL + 20 - Date.now()));
      await me(two, token).expect(401);
    });
  });

  describe('strict mode (cache: false)', () => {
    let db: SharedDatabase;
    let one: Instance;
    let two: Instance;

    beforeAll(async () => {
      db = await database();
      one = await startInstance(db.options(true), { cache: false });
      two = await startInstance(db.options(false), { cache: false });
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await db?.cleanup();
    });

    it.each(REVOCATIONS)('%s on instance 1: instance 2 refuses at once', async (_name, revoke) => {
      const { userId, sessionId, token } = await loginAndCache(one, two);
      expect(two.notifier.cache.size).toBe(0);
      await revoke(one, userId, sessionId);
      await me(two, token).expect(401);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Redis dies mid-test and comes back on the same port.
// ---------------------------------------------------------------------------------------------

describe('Redis killed mid-test', () => {
  const runnable = !!redisUrl && redisServerAvailable();
  if (!runnable) warnSkipped('Redis kill', 'set CI=1 or TEST_REDIS_URL (and put redis-server on PATH) to run them');

  (runnable ? it.each : it.skip.each)(sharedDatabases())('on %s: direct checks while it is down, cache and propagation again after it is back', async (_name, database) => {
    const redis = await RedisProcess.start();
    const db = await database();
    const channel = channelName();
    const one = await startInstance(db.options(true), { redis: { url: redis.url, channel } });
    const two = await startInstance(db.options(false), { redis: { url: redis.url, channel } });
    try {
      expect(await busUp(one, two)).toMatchObject({ ok: true });
      const a = await loginAndCache(one, two);
      const b = await loginAndCache(one, two);
      expect(two.notifier.cache.getUser(String(a.userId))).toBeDefined();

      await redis.kill();
      expect(await busDown(one, two)).toMatchObject({ ok: true });
      expect(two.notifier.cache.size).toBe(0);

      // Revocations on instance 1 cannot be published, yet instance 2 refuses at once.
      await one.sessions.invalidateSessions(a.userId);
      await me(two, a.token).expect(401);
      await one.sessions.revokeSession(b.userId, b.sessionId);
      await me(two, b.token).expect(401);
      // Live sessions still work (from the database), and nothing is cached meanwhile.
      const c = await loginAndCache(one, two);
      await me(two, c.token).expect(200);
      expect(two.notifier.cache.size).toBe(0);

      await redis.start();
      expect(await busUp(one, two)).toMatchObject({ ok: true });

      // The cache is used again...
      await me(two, c.token).expect(200);
      expect(two.notifier.cache.getUser(String(c.userId))).toBeDefined();
      // ...and revocations propagate again.
      await one.sessions.invalidateSessions(c.userId);
      expect(await refusedWithin(two, c.token, 1000)).toMatchObject({ ok: true });
      const d = await loginAndCache(one, two);
      await one.sessions.revokeSession(d.userId, d.sessionId);
      expect(await refusedWithin(two, d.token, 1000)).toMatchObject({ ok: true });
    } finally {
      await one.close();
      await two.close();
      await redis.kill();
      await db.cleanup();
    }
  });
});

describe('Redis trouble beyond a clean kill', () => {
  const runnable = !!redisUrl && redisServerAvailable();
  if (!runnable) warnSkipped('Redis kill', 'set CI=1 or TEST_REDIS_URL (and put redis-server on PATH) to run them');
  const redisIt = runnable ? it : it.skip;
  let redis: RedisProcess;
  let db: SharedDatabase;
  const opened: Instance[] = [];
  const start = async (first: boolean, channel: string) => {
    const instance = await startInstance(db.options(first), { redis: { url: redis.url, channel } });
    opened.push(instance);
    return instance;
  };
  /** A connection of the test's own to its Redis (ioredis, no retries). */
  const adminClient = async () => {
    const { Redis } = (await import('ioredis')) as any;
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  /** Sends one command to the test's Redis on a connection of its own. */
  const redisCommand = async (...args: string[]) => {
    const client = await adminClient();
    try {
      return await client.call(...args);
    } finally {
      client.disconnect();
    }
  };
  /** `CLIENT LIST` as one record per connection. */
  const clientList = async (admin: any): Promise<Array<Record<string, string>>> =>
    String(await admin.call('CLIENT', 'LIST'))
      .trim()
      .split('\n')
      .map((line) => Object.fromEntries(line.trim().split(' ').map((field) => field.split('=', 2) as [string, string])));

  beforeEach(async () => {
    if (!runnable) return;
    redis = await RedisProcess.start();
    db = await sharedDatabases()[0][1]();
  });
  afterEach(async () => {
    if (!runnable) return;
    for (const instance of opened.splice(0)) await instance.close();
    await redis.kill();
    await db.cleanup();
  });

  redisIt('Redis down at startup: the apps start on direct checks and switch to the cache once it is up', async () => {
    await redis.kill();
    const channel = channelName();
    const one = await start(true, channel);
    const two = await start(false, channel);
    expect(one.notifier.cache.bypassed && two.notifier.cache.bypassed).toBe(true);
    const a = await loginAndCache(one, two);
    await one.sessions.invalidateSessions(a.userId);
    await me(two, a.token).expect(401);

    await redis.start();
    expect(await busUp(one, two)).toMatchObject({ ok: true });
    const b = await loginAndCache(one, two);
    expect(two.notifier.cache.getUser(String(b.userId))).toBeDefined();
    await one.sessions.invalidateSessions(b.userId);
    expect(await refusedWithin(two, b.token, 1000)).toMatchObject({ ok: true });
  });

  // The publisher connection alone drops (Redis `timeout` closing the idle publisher, a
  // failover, a network blip: the two connections reconnect on independent timers) while the
  // other instance's bus stays up and keeps serving from its cache.
  redisIt('the publisher connection alone drops: that instance bypasses its cache, and a revocation made meanwhile is re-sent and reaches the other instance', async () => {
    const channel = channelName();
    const one = await start(true, channel);
    expect(await busUp(one)).toMatchObject({ ok: true });
    const admin = await adminClient();
    try {
      // Instance 1's publisher, found before instance 2 opens one with the same name.
      const publishers = (await clientList(admin)).filter((c) => c.name === 'session-revocation-publisher');
      expect(publishers).toHaveLength(1);
      const two = await start(false, channel);
      expect(await busUp(one, two)).toMatchObject({ ok: true });
      const a = await loginAndCache(one, two);

      // Drop instance 1's publisher and keep it from reconnecting for a while: no new
      // connections (the test's own connection and the other four stay).
      const [, maxclients] = (await admin.call('CONFIG', 'GET', 'maxclients')) as [string, string];
      await admin.call('CONFIG', 'SET', 'maxclients', String((await clientList(admin)).length - 1));
      try {
        await admin.call('CLIENT', 'KILL', 'ID', publishers[0].id);
        // Instance 1 can no longer announce anything: it stops trusting its cache.
        expect(await busDown(one)).toMatchObject({ ok: true });
        expect(two.notifier.cache.bypassed).toBe(false);

        await one.sessions.invalidateSessions(a.userId);
        await me(one, a.token).expect(401);
        expect(one.notifier.pendingCount).toBeGreaterThan(0);
        // Not delivered yet: instance 2 still holds the session in its cache.
        expect(two.notifier.cache.getUser(String(a.userId))).toBeDefined();
      } finally {
        await admin.call('CONFIG', 'SET', 'maxclients', maxclients);
      }
      // The publisher reconnects (backoff well under a second here), the queue is re-sent, and
      // instance 2 drops the entry long before cache.ttl (60 s) would have.
      expect(await refusedWithin(two, a.token, 3000)).toMatchObject({ ok: true });
      expect(await busUp(one)).toMatchObject({ ok: true });
      expect(one.notifier.pendingCount).toBe(0);
    } finally {
      admin.disconnect();
    }
  });

  // Redis accepts the connection but does not answer (paused here; in production a half-open
  // TCP connection after a NAT/LB idle drop, which only the OS notices after minutes).
  redisIt('Redis stops answering: invalidateSessions still returns promptly, and the revocation is sent once Redis answers', async () => {
    const channel = channelName();
    const one = await start(true, channel);
    const two = await start(false, channel);
    expect(await busUp(one, two)).toMatchObject({ ok: true });
    const a = await loginAndCache(one, two);
    await redisCommand('CLIENT', 'PAUSE', '6000', 'WRITE');
    try {
      expect(await returnsWithin(one.sessions.invalidateSessions(a.userId), 3000)).toBe('returned');
      await me(one, a.token).expect(401);
      // Not sent: instance 1 keeps it queued and checks the database meanwhile.
      expect(one.notifier.pendingCount).toBeGreaterThan(0);
      expect(one.notifier.cache.bypassed).toBe(true);
    } finally {
      await redisCommand('CLIENT', 'UNPAUSE');
    }
    expect(await refusedWithin(two, a.token, 3000)).toMatchObject({ ok: true });
    expect(await busUp(one)).toMatchObject({ ok: true });
    expect(one.notifier.pendingCount).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL LISTEN/NOTIFY: a NOTIFY that fails or hangs, and shutting down.
// ---------------------------------------------------------------------------------------------

if (postgresUrl) {
  describe('LISTEN/NOTIFY trouble', () => {
    let db: SharedDatabase;
    const opened: Instance[] = [];
    const start = async (first: boolean, options: Partial<SessionRevocationModuleOptions> & { isGlobal?: boolean }) => {
      const instance = await startInstance(db.options(first), options);
      opened.push(instance);
      return instance;
    };

    beforeEach(async () => {
      db = await postgresSchema(postgresUrl!);
    });
    afterEach(async () => {
      for (const instance of opened.splice(0)) await instance.close();
      await db.cleanup();
    });

    /**
     * Makes instance `i`'s `SELECT pg_notify(...)` fail or never answer (the database write
     * before it still goes through) until the returned function is called.
     */
    const breakNotify = (i: Instance, mode: 'fail' | 'hang') => {
      const ds = i.dataSource as any;
      const query = ds.query;
      ds.query = function (sql: string, ...rest: unknown[]) {
        if (typeof sql === 'string' && sql.includes('pg_notify')) {
          return mode === 'fail' ? Promise.reject(new Error('connection terminated')) : new Promise(() => undefined);
        }
        return query.call(this, sql, ...rest);
      };
      return () => {
        ds.query = query;
      };
    };

    it.each(['fail', 'hang'] as const)('a NOTIFY that %ss: the revoking call returns, the revocation is re-sent and reaches the other instance', async (mode) => {
      const channel = channelName();
      const one = await start(true, { postgresNotify: { channel } });
      const two = await start(false, { postgresNotify: { channel } });
      expect(await busUp(one, two)).toMatchObject({ ok: true });
      const a = await loginAndCache(one, two);
      const repair = breakNotify(one, mode);
      try {
        expect(await returnsWithin(one.sessions.invalidateSessions(a.userId), 3000)).toBe('returned');
        await me(one, a.token).expect(401);
        expect(one.notifier.pendingCount).toBeGreaterThan(0);
        expect(one.notifier.cache.bypassed).toBe(true);
        // Not delivered yet: instance 2 still holds the session in its cache.
        expect(two.notifier.cache.getUser(String(a.userId))).toBeDefined();
      } finally {
        repair();
      }
      expect(await refusedWithin(two, a.token, 3000)).toMatchObject({ ok: true });
      expect(await busUp(one)).toMatchObject({ ok: true });
    });

    it.each([
      ['imported before TypeOrmModule', true],
      ['imported after TypeOrmModule', false],
    ])('app.close() with isGlobal and postgresNotify, %s, finishes: the bus gives its connection back before TypeORM closes the pool', async (_name, moduleFirst) => {
      const instance = await startInstance(db.options(true), { postgresNotify: { channel: channelName() }, isGlobal: true }, { moduleFirst });
      expect(await busUp(instance)).toMatchObject({ ok: true });
      const user = await newUser(instance);
      await me(instance, (await instance.sessions.issue(user)).accessToken).expect(200);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        instance.close().then(() => 'closed'),
        new Promise((resolve) => (timer = setTimeout(() => resolve('still closing after 5 s'), 5000))),
      ]);
      clearTimeout(timer);
      expect(outcome).toBe('closed');
      expect(instance.dataSource.isInitialized).toBe(false);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The database becomes unreachable mid-run: 503, never a pass; recovery without restart.
// ---------------------------------------------------------------------------------------------

describe('database unreachable mid-run', () => {
  const ATTEMPTS = 10;
  const expectAll503 = async (instance: Instance, tokens: string[]) => {
    for (let i = 0; i < ATTEMPTS; i++) {
      for (const token of tokens) expect((await me(instance, token)).status).toBe(503);
    }
  };

  const postgresModes: Array<[string, Partial<SessionRevocationModuleOptions>]> = [
    ['strict mode', { cache: false }],
    ['cache with the postgresNotify bus', { postgresNotify: true }],
  ];

  if (postgresUrl) {
    it.each(postgresModes)('PostgreSQL, %s: connections terminated and refused', async (_name, options) => {
      const url = postgresUrl!;
      const name = `scal_down_${randomBytes(5).toString('hex')}`;
      const admin = new DataSource({ type: 'postgres', url });
      await admin.initialize();
      await admin.query(`CREATE DATABASE "${name}"`);
      const target = new URL(url);
      target.pathname = `/${name}`;
      let instance: Instance | undefined;
      try {
        instance = await startInstance({ type: 'postgres', url: target.toString(), synchronize: true, entities: ENTITIES }, options);
        if (options.postgresNotify) expect(await busUp(instance)).toMatchObject({ ok: true });
        const a = await loginAndCache(instance, instance); // cached (when the cache is on)
        const userB = await newUser(instance);
        const b = (await instance.sessions.issue(userB)).accessToken; // never checked before

        await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        if (options.postgresNotify) expect(await busDown(instance)).toMatchObject({ ok: true });
        await expectAll503(instance, [a.token, b]);

        await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
        expect(await eventually(async () => (await me(instance!, a.token)).status === 200, 10_000, 50)).toMatchObject({ ok: true });
        await me(instance, b).expect(200);
        if (options.postgresNotify) expect(await busUp(instance)).toMatchObject({ ok: true });
        // And it still revokes.
        await instance.sessions.invalidateSessions(a.userId);
        await me(instance, a.token).expect(401);
      } finally {
        await instance?.close();
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.destroy();
      }
    });
  }

  it.each([
    ['strict mode', { cache: false }],
    ['cache on (a session not cached yet)', {}],
  ] as Array<[string, Partial<SessionRevocationModuleOptions>]>)('SQLite, %s: every query fails', async (_name, options) => {
    const [, database] = sharedDatabases()[0];
    const db = await database();
    const instance = await startInstance(db.options(true), options);
    try {
      const strict = options.cache === false;
      const userA = await newUser(instance);
      const a = (await instance.sessions.issue(userA)).accessToken;
      await me(instance, a).expect(200);
      const userB = await newUser(instance);
      const b = (await instance.sessions.issue(userB)).accessToken;

      const ds = instance.dataSource as any;
      const manager = ds.manager;
      const saved = { createQueryBuilder: ds.createQueryBuilder, findOneBy: manager.findOneBy, query: ds.query, update: manager.update };
      const fail = () => {
        throw new Error('connection refused');
      };
      ds.createQueryBuilder = fail;
      ds.query = () => Promise.reject(new Error('connection refused'));
      manager.findOneBy = () => Promise.reject(new Error('connection refused'));
      manager.update = () => Promise.reject(new Error('connection refused'));
      try {
        await expectAll503(instance, strict ? [a, b] : [b]);
      } finally {
        Object.assign(ds, { createQueryBuilder: saved.createQueryBuilder, query: saved.query });
        Object.assign(manager, { findOneBy: saved.findOneBy, update: saved.update });
      }
      await me(instance, a).expect(200);
      await me(instance, b).expect(200);
    } finally {
      await instance.close();
      await db.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The cache never holds more than `max` entries.
// ---------------------------------------------------------------------------------------------

describe('cache bound', () => {
  it('holds at most `max` entries after 5 x max distinct users authenticated', async () => {
    const MAX = 50;
    const [, database] = sharedDatabases()[0];
    const db = await database();
    const instance = await startInstance(db.options(true), { cache: { max: MAX } });
    try {
      const notifier = instance.app.get(RevocationNotifier);
      expect(notifier.cache.max).toBe(MAX);
      const users = await instance.dataSource
        .getRepository(TestUser)
        .save(Array.from({ length: 5 * MAX }, (_, i) => ({ email: `bound-${i}@example.com`, passwordHash: 'h' })));
      let largest = 0;
      for (const user of users) {
        const { accessToken } = await instance.sessions.issue(user.id);
        expect(await instance.sessions.authenticate(accessToken)).toMatchObject({ userId: user.id });
        largest = Math.max(largest, notifier.cache.size);
      }
      // A few over HTTP as well.
      for (const user of users.slice(0, 5)) {
        const { accessToken } = await instance.sessions.issue(user.id);
        await me(instance, accessToken).expect(200);
        largest = Math.max(largest, notifier.cache.size);
      }
      expect(largest).toBeLessThanOrEqual(MAX);
      expect(notifier.cache.size).toBeGreaterThan(0);
      expect(notifier.cache.size).toBeLessThanOrEqual(MAX);
    } finally {
      await instance.close();
      await db.cleanup();
    }
  });
});
