import { SessionStore, bearerOrCookie } from '../lib/index.js';
import { ENTITIES, eventually, sleep } from './support/scaling.js';
import { connectLive, expiredCopy, refusedLive, startSocketInstance, within, type LiveClient, type SocketInstance } from './support/sockets.js';
import { TEST_SECRET, TestUser } from './support/test-app.js';

/**
 * socket.io gateways behind `SessionIoAdapter`: handshakes authenticated before the connection is
 * accepted, every message checked, and sockets told `session-ended` and disconnected when their
 * session ends, whichever way it ends. Real socket.io clients against a real server on port 0.
 */

const database = (synchronize = true) => ({ type: 'better-sqlite3' as const, database: ':memory:', entities: ENTITIES, synchronize });

let counter = 0;
async function newUser(instance: SocketInstance): Promise<TestUser> {
  return instance.dataSource.getRepository(TestUser).save({ email: `ws-${Date.now().toString(36)}-${counter++}@example.com`, passwordHash: 'h1' });
}

/** Logs a user in `n` times (n devices); returns their tokens and session ids. */
async function devices(instance: SocketInstance, user: TestUser, n: number) {
  const out: Array<{ accessToken: string; sessionId: string }> = [];
  for (let i = 0; i < n; i++) out.push(await instance.sessions.issue(user));
  return out;
}

describe('socket.io gateway with SessionIoAdapter', () => {
  let instance: SocketInstance;
  const open: LiveClient[] = [];
  const connect = async (...args: Parameters<typeof connectLive>) => {
    const client = await connectLive(...args);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    instance = await startSocketInstance(database(), 'socket.io', { tokenExtractor: bearerOrCookie('access_token') });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.socket.close();
  });
  afterAll(async () => {
    await instance?.close();
  });

  describe('handshake', () => {
    it('refuses no token, garbage, an expired token, a revoked session and a blocked user with connect_error "Unauthorized" and nothing else', async () => {
      const user = await newUser(instance);
      const [live, revoked] = await devices(instance, user, 2);
      await instance.sessions.revokeSession(user.id, revoked.sessionId);
      const blockedUser = await newUser(instance);
      const [blocked] = await devices(instance, blockedUser, 1);
      await instance.sessions.blockUser(blockedUser.id);

      const cases: Array<[string, Parameters<typeof connectLive>[1]]> = [
        ['no token', {}],
        ['garbage', { token: 'not.a.token' }],
        ['a number', { token: 42 }],
        ['a bad Authorization header', { headers: { authorization: 'Basic abc' } }],
        ['expired', { token: expiredCopy(live.accessToken) }],
        ['revoked', { token: revoked.accessToken }],
        ['blocked', { token: blocked.accessToken }],
        ['revoked, as a cookie', { headers: { cookie: `access_token=${revoked.accessToken}` } }],
      ];
      for (const [name, options] of cases) {
        const error = await refusedLive(instance.url, options);
        expect([name, error.message, error.data]).toEqual([name, 'Unauthorized', undefined]);
      }
      expect(instance.registry.size).toBe(0);
    });

    it('accepts auth.token (also "Bearer …"), an Authorization header or the access cookie; whoami answers the session', async () => {
      const user = await newUser(instance);
      const [{ accessToken, sessionId }] = await devices(instance, user, 1);
      const variants: Array<Parameters<typeof connectLive>[1]> = [
        { token: accessToken },
        { token: `Bearer ${accessToken}` },
        { headers: { authorization: `Bearer ${accessToken}` } },
        { headers: { cookie: `access_token=${accessToken}` } },
      ];
      for (const options of variants) {
        const client = await connect(instance.url, options);
        await expect(client.whoami()).resolves.toEqual({ userId: user.id, sessionId });
      }
      expect(instance.registry.size).toBe(4);
    });
  });

  describe('live disconnect', () => {
    /** Connects one socket per device, plus one of another user, and checks that exactly `expected` end. */
    async function revokes(
      deviceCount: number,
      revoke: (user: TestUser, tokens: Array<{ accessToken: string; sessionId: string }>) => Promise<unknown>,
      expected: Array<Ending | 'live'>,
    ) {
      const user = await newUser(instance);
      const tokens = await devices(instance, user, deviceCount);
      const clients = await Promise.all(tokens.map((t) => connect(instance.url, { token: t.accessToken })));
      const bystander = await connect(instance.url, { token: (await devices(instance, await newUser(instance), 1))[0].accessToken });
      await revoke(user, tokens);
      const outcomes = await Promise.all(clients.map((c) => within(c.ended, 1500)));
      expect(outcomes.map((o) => (o === 'pending' ? 'live' : o))).toEqual(expected);
      for (const [i, client] of clients.entries()) {
        if (expected[i] === 'live') await expect(client.whoami()).resolves.toMatchObject({ userId: user.id });
        else await expect(client.disconnected).resolves.toBe('io server disconnect');
      }
      await expect(bystander.whoami()).resolves.toHaveProperty('userId');
      return { user, tokens, clients };
    }

    type Ending = { event: 'session-ended' | 'reconnect'; reason: string };
    const ended = (reason: string): Ending => ({ event: 'session-ended', reason });

    it('revokeSession (device list) ends that device only', () =>
      revokes(2, (user, [, second]) => instance.sessions.revokeSession(user.id, second.sessionId), ['live', ended('revoke')]));

    it('logout ends that device only', () => revokes(2, (_user, [first]) => instance.sessions.logout({ accessToken: first.accessToken }), [ended('logout'), 'live']));

    it('"log out everywhere" ends every device; "log out other devices" keeps the caller', async () => {
      await revokes(3, (user) => instance.sessions.invalidateSessions(user.id, { reason: 'logout-all' }), [ended('logout-all'), ended('logout-all'), ended('logout-all')]);
      await revokes(3, (user, [first]) => instance.sessions.invalidateSessions(user.id, { except: first.sessionId, reason: 'logout-others' }), [
        'live',
        ended('logout-others'),
        ended('logout-others'),
      ]);
    });

    it('blocking the user ends every device', () => revokes(2, (user) => instance.sessions.blockUser(user.id), [ended('blocked'), ended('blocked')]));

    it('a password change elsewhere ends the other devices; the changing device gets reconnect and reconnects with its new token', async () => {
      let renewed = '';
      await revokes(
        2,
        async (user, [first]) => {
          user.passwordHash = 'h2';
          await instance.dataSource.getRepository(TestUser).save(user); // rotates the session token
          await instance.sessions.invalidateSessions(user.id, { except: first.sessionId, reason: 'password-change' });
          renewed = (await instance.sessions.renew(user, first.sessionId)).accessToken;
        },
        [{ event: 'reconnect', reason: 'token-renewed' }, expect.objectContaining({ event: 'session-ended' })],
      );
      const again = await connect(instance.url, { token: renewed });
      await expect(again.whoami()).resolves.toHaveProperty('sessionId');
    });

    it('an email change by a raw repository update ends every device (the rotated token is refused)', () =>
      revokes(
        2,
        (user) => instance.dataSource.getRepository(TestUser).update(user.id, { email: `changed-${user.email}` }),
        [ended('rotated'), ended('rotated')],
      ));

    it('"end every session" ends every socket of every user', async () => {
      const a = await connect(instance.url, { token: (await devices(instance, await newUser(instance), 1))[0].accessToken });
      const b = await connect(instance.url, { token: (await devices(instance, await newUser(instance), 1))[0].accessToken });
      await instance.sessions.invalidateAllSessions();
      await expect(a.ended).resolves.toEqual(ended('revoked'));
      await expect(b.ended).resolves.toEqual(ended('revoked'));
      expect((await eventually(() => instance.registry.size === 0, 3000)).ok).toBe(true);
    });
  });

  it('1,000 sockets: one user’s revocation disconnects exactly that user’s sockets', async () => {
    const users = await Promise.all(Array.from({ length: 50 }, () => newUser(instance)));
    const perUser = await Promise.all(users.map((u) => devices(instance, u, 2)));
    const clients: Array<{ userIndex: number; client: LiveClient }> = [];
    for (let start = 0; start < 1000; start += 100) {
      const batch = Array.from({ length: 100 }, (_, k) => start + k).map(async (i) => {
        const userIndex = i % 50;
        const token = perUser[userIndex][i % 2].accessToken;
        clients.push({ userIndex, client: await connect(instance.url, { token }) });
      });
      await Promise.all(batch);
    }
    expect(instance.registry.size).toBe(1000);
    await instance.sessions.invalidateSessions(users[7].id, { reason: 'admin' });
    const targets = clients.filter((c) => c.userIndex === 7);
    expect(targets).toHaveLength(20);
    await Promise.all(targets.map((t) => expect(t.client.ended).resolves.toEqual({ event: 'session-ended', reason: 'admin' })));
    await sleep(200); // anything wrongly ended would have been told by now
    const stillConnected = clients.filter((c) => c.client.socket.connected);
    expect(stillConnected).toHaveLength(980);
    expect(stillConnected.every((c) => c.userIndex !== 7)).toBe(true);
    expect(instance.registry.size).toBe(980);
  }, 60_000);
});

describe('socket.io: refusals without a live notice', () => {
  it('a message after the session ended (store written behind the instance’s back, strict mode) is refused with Unauthorized, then the socket is ended', async () => {
    const instance = await startSocketInstance(database(), 'socket.io', { cache: false });
    try {
      const user = await newUser(instance);
      const [{ accessToken, sessionId }] = await devices(instance, user, 1);
      const client = await connectLive(instance.url, { token: accessToken });
      await expect(client.whoami()).resolves.toEqual({ userId: user.id, sessionId });
      // Ended in the store only: no revocation message reaches the registry.
      await instance.app.get<any>(SessionStore).endSession(sessionId, { reason: 'out-of-band', at: Date.now() });
      const exception = new Promise((resolve) => client.socket.once('exception', resolve));
      client.socket.emit('whoami', () => {
        throw new Error('the handler ran');
      });
      await expect(exception).resolves.toMatchObject({ status: 'error', message: 'Unauthorized' });
      await expect(client.ended).resolves.toEqual({ event: 'session-ended', reason: 'out-of-band' });
      await expect(client.disconnected).resolves.toBe('io server disconnect');
    } finally {
      await instance.close();
    }
  });

  it('an access token that expires: the socket gets reconnect "token-expired" (the session goes on)', async () => {
    const instance = await startSocketInstance(database(), 'socket.io', { jwt: { secret: TEST_SECRET, issuer: 'test', audience: 'test', accessTtl: 2, clockToleranceSeconds: 0 }, cache: { ttl: '1s' } });
    try {
      const user = await newUser(instance);
      const [{ accessToken }] = await devices(instance, user, 1);
      const client = await connectLive(instance.url, { token: accessToken });
      await expect(client.ended).resolves.toEqual({ event: 'reconnect', reason: 'token-expired' });
      await expect(client.disconnected).resolves.toBe('io server disconnect');
    } finally {
      await instance.close();
    }
  });

  it('by default, a gateway without the adapter refuses every message (the handshake was never authenticated)', async () => {
    const instance = await startSocketInstance(database(), 'plain-socket.io');
    try {
      const user = await newUser(instance);
      const [{ accessToken }] = await devices(instance, user, 1);
      for (const token of [undefined, accessToken]) {
        const client = await connectLive(instance.url, token ? { token } : {});
        const exception = new Promise((resolve) => client.socket.once('exception', resolve));
        client.socket.emit('echo', 'hello', () => {
          throw new Error('the handler ran');
        });
        await expect(exception).resolves.toMatchObject({ status: 'error', message: 'Unauthorized' });
        client.socket.close();
      }
    } finally {
      await instance.close();
    }
  });

  it("nonHttpContexts: 'skip' is the explicit opt-out: the same gateway's handlers run unchecked", async () => {
    const instance = await startSocketInstance(database(), 'plain-socket.io', { nonHttpContexts: 'skip' });
    try {
      const client = await connectLive(instance.url, {});
      await expect(client.socket.timeout(2000).emitWithAck('echo', 'hello')).resolves.toBe('hello');
      client.socket.close();
    } finally {
      await instance.close();
    }
  });
});
