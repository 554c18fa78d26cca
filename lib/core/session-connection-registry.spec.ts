import { jest } from '@jest/globals';
import type { RevocationMessage } from '../bus/revocation-bus.js';
import { SessionRefusedError, SessionStoreUnavailableError } from '../session-revocation.errors.js';
import { SessionConnectionRegistry, type ConnectionEndEvent } from './session-connection-registry.js';

/** The registry on fakes: a notifier the test fires, an authenticator whose verdicts the test sets. */
function setup() {
  const listeners: Array<(message: RevocationMessage) => void> = [];
  const notifier = {
    busHealthy: true,
    subscribe: jest.fn((listener: (message: RevocationMessage) => void) => {
      listeners.push(listener);
      return () => listeners.splice(listeners.indexOf(listener), 1);
    }),
  };
  const ended = new Set<string>(); // session ids
  let storeDown = false;
  const checked: string[] = [];
  const authenticator = {
    check: jest.fn(async (claims: { sid: string }) => {
      checked.push(claims.sid);
      if (storeDown) throw new SessionStoreUnavailableError(new Error('db'));
      if (ended.has(claims.sid)) throw new SessionRefusedError('revoked');
    }),
  };
  const lifecycle = { list: async (_userId: unknown) => [] as Array<{ id: string }> };
  const store = { findSession: async () => ({ endReason: 'logout' }) };
  const config = { cacheTtlMs: 1000, clockToleranceSeconds: 0 };
  const registry = new SessionConnectionRegistry(config as any, store as any, {} as any, authenticator as any, lifecycle as any, notifier as any);
  const endings: Array<[string, ConnectionEndEvent, string]> = [];
  const connect = (userId: string, sessionId: string) => {
    const client = {};
    const unregister = registry.register(
      client,
      {
        session: { userId, sessionId, issuedAt: 0, expiresAt: Date.now() / 1000 + 3600, authTime: 0, claims: {} },
        claims: { sub: userId, sid: sessionId, sfp: 'f', iat: 0, exp: 0, payload: {} },
        generation: 0,
      },
      (event, reason) => {
        endings.push([sessionId, event, reason]);
        unregister();
      },
    );
    return { client, unregister };
  };
  const publish = (message: RevocationMessage) => listeners.forEach((listener) => listener(message));
  return {
    registry,
    notifier,
    connect,
    publish,
    ended,
    checked,
    endings,
    setStoreDown: (down: boolean) => (storeDown = down),
  };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('SessionConnectionRegistry', () => {
  afterEach(() => jest.useRealTimers());

  it('holds one revocation subscription whatever the number of connections, and re-checks only the connections a revocation names', async () => {
    const t = setup();
    for (let u = 0; u < 100; u++) for (let s = 0; s < 10; s++) t.connect(`u${u}`, `u${u}-s${s}`);
    expect(t.registry.size).toBe(1000);
    expect(t.notifier.subscribe).toHaveBeenCalledTimes(1);

    t.publish({ t: 'user', id: 'u7' });
    await settle();
    expect(t.checked.sort()).toEqual(Array.from({ length: 10 }, (_, s) => `u7-s${s}`).sort());

    t.checked.length = 0;
    t.ended.add('u3-s4');
    t.publish({ t: 'session', id: 'u3-s4' });
    await settle();
    expect(t.checked).toEqual(['u3-s4']);
    expect(t.endings).toEqual([['u3-s4', 'session-ended', 'logout']]);
    expect(t.registry.size).toBe(999);

    t.checked.length = 0;
    t.publish({ t: 'all' });
    await settle();
    expect(t.checked).toHaveLength(999);
    t.registry.onApplicationShutdown();
  });

  it('a connection refused per message is ended; an unknown client is refused', async () => {
    const t = setup();
    const { client } = t.connect('u1', 's1');
    await expect(t.registry.verify(client)).resolves.toMatchObject({ sessionId: 's1' });
    await expect(t.registry.verify({})).rejects.toBeInstanceOf(SessionRefusedError);
    t.ended.add('s1');
    await expect(t.registry.verify(client)).rejects.toMatchObject({ reason: 'revoked' });
    await settle();
    expect(t.endings).toEqual([['s1', 'session-ended', 'logout']]);
    t.registry.onApplicationShutdown();
  });

  it('re-checks every connection on its timer while the bus is unhealthy (and once after), and only failed checks while it is healthy', async () => {
    jest.useFakeTimers();
    const t = setup();
    t.connect('u1', 's1');
    t.connect('u2', 's2');
    await jest.advanceTimersByTimeAsync(1000);
    expect(t.checked).toEqual([]); // bus healthy: revocations arrive as messages

    t.notifier.busHealthy = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(t.checked.sort()).toEqual(['s1', 's2']);
    t.notifier.busHealthy = true;
    await jest.advanceTimersByTimeAsync(1000); // once more: what was published while it was down
    expect(t.checked).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(1000);
    expect(t.checked).toHaveLength(4);

    // A check the store could not answer is tried again on the next tick.
    t.setStoreDown(true);
    t.publish({ t: 'user', id: 'u1' });
    await jest.advanceTimersByTimeAsync(0);
    expect(t.checked).toHaveLength(5);
    t.setStoreDown(false);
    t.ended.add('s1');
    await jest.advanceTimersByTimeAsync(1000);
    expect(t.checked).toHaveLength(6);
    expect(t.endings).toEqual([['s1', 'session-ended', 'logout']]);
    t.registry.onApplicationShutdown();
  });

  it('a revocation that lands between the handshake check and the registration is not missed', async () => {
    const t = setup();
    t.publish({ t: 'session', id: 'elsewhere' }); // the registry's generation moves past the handshake's 0
    t.ended.add('s1');
    t.connect('u1', 's1');
    await settle();
    expect(t.endings).toEqual([['s1', 'session-ended', 'logout']]);
    t.registry.onApplicationShutdown();
  });
});
