import { randomBytes } from 'node:crypto';
import type { SessionRevocationModuleOptions } from '../lib/index.js';
import { eventually, postgresSchema, postgresUrl, redisUrl, sharedDatabases, warnSkipped, type SharedDatabase } from './support/scaling.js';
import { connectLive, connectWs, startSocketInstance, within, type SocketInstance } from './support/sockets.js';
import { TestUser } from './support/test-app.js';

/**
 * Two instances on one database: a revocation made on instance 1 reaches the sockets held by
 * instance 2 over the bus (Redis, PostgreSQL LISTEN/NOTIFY), or by the registry's re-check
 * without one (within the cache TTL, as for HTTP).
 */

const channel = () => `ws_${randomBytes(4).toString('hex')}`;

const setups: Array<[string, () => Promise<SharedDatabase>, () => Partial<SessionRevocationModuleOptions>]> = [
  ['no bus (re-checked within cache.ttl)', sharedDatabases()[0][1], () => ({ cache: { ttl: '1s' } })],
];
if (redisUrl) setups.push(['Redis', sharedDatabases()[0][1], () => ({ bus: { redis: { url: redisUrl!, channel: channel() } } })]);
else warnSkipped('Redis', 'set CI=1 or TEST_REDIS_URL=redis://... to run them');
if (postgresUrl) setups.push(['PostgreSQL LISTEN/NOTIFY', () => postgresSchema(postgresUrl!), () => ({ bus: { postgres: { channel: channel() } } })]);
else warnSkipped('PostgreSQL', 'set CI=1 or TEST_DATABASE_URL=postgres://... to run them');

describe.each(setups)('sockets across two instances: %s', (_name, makeDatabase, busOptions) => {
  let db: SharedDatabase;
  let one: SocketInstance;
  let two: SocketInstance;

  beforeAll(async () => {
    db = await makeDatabase();
    const options = busOptions();
    one = await startSocketInstance(db.options(true), 'socket.io', options);
    two = await startSocketInstance(db.options(false), 'socket.io', options);
    if (options.bus) expect((await eventually(() => one.notifier.busHealthy && two.notifier.busHealthy, 10_000)).ok).toBe(true);
  }, 30_000);
  afterAll(async () => {
    await two?.close();
    await one?.close();
    await db?.cleanup();
  });

  let counter = 0;
  const newUser = () => one.dataSource.getRepository(TestUser).save({ email: `wss-${Date.now().toString(36)}-${counter++}@example.com`, passwordHash: 'h1' });

  it('revoking one session on instance 1 ends that socket on instance 2, and only that one', async () => {
    const user = await newUser();
    const [a, b] = [await one.sessions.issue(user), await one.sessions.issue(user)];
    const socketA = await connectLive(two.url, { token: a.accessToken });
    const socketB = await connectLive(two.url, { token: b.accessToken });
    try {
      await one.sessions.revokeSession(user.id, a.sessionId, 'lost-phone');
      await expect(within(socketA.ended, 5000)).resolves.toEqual({ event: 'session-ended', reason: 'lost-phone' });
      await expect(socketA.disconnected).resolves.toBe('io server disconnect');
      await expect(socketB.whoami()).resolves.toEqual({ userId: user.id, sessionId: b.sessionId });
    } finally {
      socketA.socket.close();
      socketB.socket.close();
    }
  });

  it('blocking the user on instance 1 ends their sockets on instance 2 (socket.io and the same revocation seen by instance 1’s own sockets)', async () => {
    const user = await newUser();
    const [a, b] = [await one.sessions.issue(user), await one.sessions.issue(user)];
    const remote = await connectLive(two.url, { token: a.accessToken });
    const local = await connectLive(one.url, { token: b.accessToken });
    try {
      await one.sessions.blockUser(user.id);
      await expect(within(local.ended, 2000)).resolves.toEqual({ event: 'session-ended', reason: 'blocked' });
      await expect(within(remote.ended, 5000)).resolves.toEqual({ event: 'session-ended', reason: 'blocked' });
      expect(two.registry.size).toBe(0);
    } finally {
      remote.socket.close();
      local.socket.close();
    }
  });
});

// The ws platform shares the registry: one cross-instance case over Redis.
(redisUrl ? describe : describe.skip)('ws clients across two instances over Redis', () => {
  it('logging out on instance 1 closes the ws client held by instance 2 with 4401 session-ended', async () => {
    const db = await sharedDatabases()[0][1]();
    const options = { bus: { redis: { url: redisUrl!, channel: channel() } } };
    const one = await startSocketInstance(db.options(true), 'ws', options);
    const two = await startSocketInstance(db.options(false), 'ws', options);
    try {
      expect((await eventually(() => one.notifier.busHealthy && two.notifier.busHealthy, 10_000)).ok).toBe(true);
      const user = await one.dataSource.getRepository(TestUser).save({ email: `wsr-${Date.now().toString(36)}@example.com`, passwordHash: 'h1' });
      const { accessToken } = await one.sessions.issue(user);
      const client = await connectWs(two.url, { authorization: `Bearer ${accessToken}` });
      await one.sessions.logout({ accessToken });
      await expect(within(client.closed, 5000)).resolves.toEqual({ code: 4401, reason: 'session-ended' });
      expect(client.messages.at(-1)).toEqual({ event: 'session-ended', data: { reason: 'logout' } });
    } finally {
      await two.close();
      await one.close();
      await db.cleanup();
    }
  });
});
