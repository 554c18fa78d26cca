import { SessionStore } from '../lib/index.js';
import { SESSION_CLOSE_CODE } from '../lib/ws/index.js';
import { ENTITIES } from './support/scaling.js';
import { connectWs, expiredCopy, startSocketInstance, within, type SocketInstance, type WsClient } from './support/sockets.js';
import { TestUser } from './support/test-app.js';

/**
 * `ws` gateways behind `SessionWsAdapter`: the upgrade is refused (401) unless its token is
 * live; a client whose session ends is told `session-ended` and closed with 4401.
 */

const database = { type: 'better-sqlite3' as const, database: ':memory:', entities: ENTITIES, synchronize: true };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let counter = 0;
const newUser = (instance: SocketInstance) =>
  instance.dataSource.getRepository(TestUser).save({ email: `wsp-${Date.now().toString(36)}-${counter++}@example.com`, passwordHash: 'h1' });

async function refusedStatus(url: string, headers: Record<string, string>): Promise<number> {
  try {
    const client = await connectWs(url, headers);
    client.socket.close();
  } catch (error) {
    return (error as { status: number }).status;
  }
  throw new Error('the upgrade was accepted');
}

describe('ws gateway with SessionWsAdapter', () => {
  let instance: SocketInstance;
  const open: WsClient[] = [];
  const connect = async (headers: Record<string, string>) => {
    const client = await connectWs(instance.url, headers);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    instance = await startSocketInstance(database, 'ws', { cache: false });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.socket.close();
  });
  afterAll(async () => {
    await instance?.close();
  });

  it('refuses the upgrade with 401 for no token, garbage, an expired token, a revoked session and a blocked user', async () => {
    const user = await newUser(instance);
    const live = await instance.sessions.issue(user);
    const revoked = await instance.sessions.issue(user);
    await instance.sessions.revokeSession(user.id, revoked.sessionId);
    const blockedUser = await newUser(instance);
    const blocked = await instance.sessions.issue(blockedUser);
    await instance.sessions.blockUser(blockedUser.id);
    for (const headers of [{}, bearer('garbage'), { authorization: 'Basic abc' }, bearer(expiredCopy(live.accessToken)), bearer(revoked.accessToken), bearer(blocked.accessToken)]) {
      expect(await refusedStatus(instance.url, headers)).toBe(401);
    }
    expect(instance.registry.size).toBe(0);
  });

  it('accepts a live token; whoami answers the session; ending the session sends session-ended and closes with 4401', async () => {
    const user = await newUser(instance);
    const [one, two] = [await instance.sessions.issue(user), await instance.sessions.issue(user)];
    const a = await connect(bearer(one.accessToken));
    const b = await connect(bearer(two.accessToken));
    await expect(a.request('whoami')).resolves.toEqual({ event: 'whoami', data: { userId: user.id, sessionId: one.sessionId } });
    await instance.sessions.revokeSession(user.id, one.sessionId, 'stolen-device');
    await expect(a.closed).resolves.toEqual({ code: SESSION_CLOSE_CODE, reason: 'session-ended' });
    expect(a.messages.at(-1)).toEqual({ event: 'session-ended', data: { reason: 'stolen-device' } });
    // The other device is untouched.
    expect(await within(b.closed, 300)).toBe('pending');
    await expect(b.request('whoami')).resolves.toMatchObject({ data: { sessionId: two.sessionId } });
  });

  it('a message after the session ended behind the instance’s back is refused (exception Unauthorized), then the client is closed', async () => {
    const user = await newUser(instance);
    const { accessToken, sessionId } = await instance.sessions.issue(user);
    const client = await connect(bearer(accessToken));
    await instance.app.get<any>(SessionStore).endSession(sessionId, { reason: 'out-of-band', at: Date.now() });
    await expect(client.request('whoami')).resolves.toMatchObject({ event: 'exception', data: { status: 'error', message: 'Unauthorized' } });
    await expect(client.closed).resolves.toEqual({ code: SESSION_CLOSE_CODE, reason: 'session-ended' });
  });

  it('the device that changed its own password gets reconnect (close reason reconnect)', async () => {
    const user = await newUser(instance);
    const { accessToken, sessionId } = await instance.sessions.issue(user);
    const client = await connect(bearer(accessToken));
    user.passwordHash = 'h2';
    await instance.dataSource.getRepository(TestUser).save(user);
    const renewed = await instance.sessions.renew(user, sessionId);
    await expect(client.closed).resolves.toEqual({ code: SESSION_CLOSE_CODE, reason: 'reconnect' });
    expect(client.messages.at(-1)).toEqual({ event: 'reconnect', data: { reason: 'token-renewed' } });
    const again = await connect(bearer(renewed.accessToken));
    await expect(again.request('whoami')).resolves.toMatchObject({ data: { sessionId } });
  });
});
