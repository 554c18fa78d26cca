import { jest } from '@jest/globals';
import { JwtService } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { SessionRevocationModule } from './session-revocation.module.js';
import { SessionRefusedError } from './session-revocation.errors.js';
import { SessionService } from './session.service.js';
import { MemorySessionStore } from './storage/memory-session.store.js';
import type { SessionEvent } from './interfaces/session-context.interface.js';

const secret = 'unit-test-secret-that-is-long-enough-0123';

async function service(legacyUntil?: Date) {
  const store = new MemorySessionStore();
  const legacyTokens = legacyUntil && { secret: 'the-app-s-own-old-secret', until: legacyUntil };
  const moduleRef = await Test.createTestingModule({
    imports: [SessionRevocationModule.forRoot({ store, jwt: { secret, issuer: 'unit', audience: 'unit' }, mountGuard: false, legacyTokens })],
  }).compile();
  await moduleRef.init();
  const sessions = moduleRef.get(SessionService);
  const events: SessionEvent[] = [];
  sessions.onEvent((event) => void events.push(event));
  return { sessions, store, events, close: () => moduleRef.close() };
}

describe('SessionService on the in-memory store', () => {
  let t: Awaited<ReturnType<typeof service>>;
  beforeEach(async () => (t = await service()));
  afterEach(() => t.close());

  it('issues tokens that authenticate, and a refresh that rotates them', async () => {
    const issued = await t.sessions.issue(7, { userAgent: 'jest', ip: '127.0.0.1' });
    expect(await t.sessions.authenticate(issued.accessToken)).toMatchObject({ userId: 7, sessionId: issued.sessionId });
    const next = await t.sessions.refresh(issued.refreshToken);
    expect(next.sessionId).toBe(issued.sessionId);
    expect(next.refreshToken).not.toBe(issued.refreshToken);
    expect(await t.sessions.authenticate(next.accessToken)).toMatchObject({ userId: 7 });
  });

  it('ends the whole family when a used refresh token comes back', async () => {
    const issued = await t.sessions.issue(1);
    const next = await t.sessions.refresh(issued.refreshToken);
    await expect(t.sessions.refresh(issued.refreshToken)).rejects.toEqual(expect.objectContaining({ reason: 'reused', status: 401 }));
    await expect(t.sessions.refresh(next.refreshToken)).rejects.toBeInstanceOf(SessionRefusedError);
    expect(await t.sessions.authenticate(next.accessToken)).toBeNull();
    expect(t.events.map((e) => e.type)).toContain('reuse-detected');
  });

  it('logs out of all devices, or of all others', async () => {
    const [a, b, c] = [await t.sessions.issue(2), await t.sessions.issue(2), await t.sessions.issue(3)];
    expect(await t.sessions.invalidateSessions(2, { except: a.sessionId })).toBe(1);
    expect(await t.sessions.authenticate(a.accessToken)).not.toBeNull();
    expect(await t.sessions.authenticate(b.accessToken)).toBeNull();
    await t.sessions.invalidateSessions(2);
    expect(await t.sessions.authenticate(a.accessToken)).toBeNull();
    expect(await t.sessions.authenticate(c.accessToken)).not.toBeNull();
    expect((await t.sessions.list(2)).length).toBe(0);
  });

  it('blocks a user: sessions end and logins are refused until unblocked', async () => {
    const issued = await t.sessions.issue(4);
    await t.sessions.blockUser(4);
    expect(await t.sessions.authenticate(issued.accessToken)).toBeNull();
    await expect(t.sessions.issue(4)).rejects.toEqual(expect.objectContaining({ reason: 'blocked' }));
    await t.sessions.unblockUser(4);
    expect(await t.sessions.authenticate((await t.sessions.issue(4)).accessToken)).not.toBeNull();
  });

  it('lists, revokes one and logs out by either token', async () => {
    const [a, b] = [await t.sessions.issue(5), await t.sessions.issue(5)];
    expect((await t.sessions.list(5, a.sessionId)).map((s) => [s.id, s.current])).toEqual(
      expect.arrayContaining([[a.sessionId, true], [b.sessionId, false]]),
    );
    expect(await t.sessions.revokeSession(5, b.sessionId)).toBe(true);
    expect(await t.sessions.revokeSession(5, b.sessionId)).toBe(false);
    expect(await t.sessions.logout({ accessToken: a.accessToken })).toBe(a.sessionId);
    expect(await t.sessions.logout({ refreshToken: 'nonsense' })).toBeUndefined();
    expect(await t.sessions.list(5)).toEqual([]);
  });

  it('renews the current session after a credential change and keeps it alone alive', async () => {
    const [a, b] = [await t.sessions.issue(6), await t.sessions.issue(6)];
    await t.store.rotateSessionToken(6); // what a password change does
    const renewed = await t.sessions.renew(6, a.sessionId);
    expect(await t.sessions.authenticate(renewed.accessToken)).not.toBeNull();
    expect(await t.sessions.authenticate(a.accessToken)).toBeNull();
    await expect(t.sessions.refresh(b.refreshToken)).rejects.toEqual(expect.objectContaining({ reason: 'rotated' }));
  });

  it('ends everyone with one epoch', async () => {
    const issued = await t.sessions.issue(8);
    await new Promise((resolve) => setTimeout(resolve, 2));
    await t.sessions.invalidateAllSessions();
    expect(await t.sessions.authenticate(issued.accessToken)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 2)); // sessions created in the epoch's millisecond are ended too
    expect(await t.sessions.authenticate((await t.sessions.issue(8)).accessToken)).not.toBeNull();
  });

  it('a read that finds nothing (a value the store cannot hold) does not forget the epoch', async () => {
    const before = await t.sessions.issue(8);
    await new Promise((resolve) => setTimeout(resolve, 2));
    await t.sessions.invalidateAllSessions();
    await new Promise((resolve) => setTimeout(resolve, 2));
    const after = await t.sessions.issue(9);
    // The store answers "no such row" for this session, as the TypeORM store does for a class-22 value.
    const read = t.store.readSessionState.bind(t.store);
    jest.spyOn(t.store, 'readSessionState').mockImplementation(async (sid, uid) => (sid === after.sessionId ? { session: null, sessionToken: null, epoch: 0 } : read(sid, uid)));
    expect(await t.sessions.authenticate(after.accessToken)).toBeNull();
    // Every check made with the cached epoch still sees the global revocation.
    await expect(t.sessions.refresh(before.refreshToken)).rejects.toEqual(expect.objectContaining({ status: 401 }));
    expect(await t.sessions.authenticate(before.accessToken)).toBeNull();
  });

  it('carries the app claims of a login into every token of the session', async () => {
    const claims = { username: 'ada', roles: ['admin'] };
    const issued = await t.sessions.issue(12, {}, { claims });
    expect((await t.sessions.authenticate(issued.accessToken))?.claims).toMatchObject({ ...claims, sub: '12', sid: issued.sessionId });
    const refreshed = await t.sessions.refresh(issued.refreshToken);
    expect((await t.sessions.authenticate(refreshed.accessToken))?.claims).toMatchObject(claims);
  });

  it('renews a session with its app claims, or with new ones', async () => {
    const claims = { username: 'ada', roles: ['admin'] };
    const issued = await t.sessions.issue(9, {}, { claims });
    await t.store.rotateSessionToken(9); // a password change (before any request cached the user)
    const renewed = await t.sessions.renew(9, issued.sessionId);
    expect((await t.sessions.authenticate(renewed.accessToken))?.claims).toMatchObject(claims);
    const renamed = await t.sessions.renew(9, issued.sessionId, { claims: { username: 'lovelace' } });
    const after = (await t.sessions.authenticate(renamed.accessToken))?.claims;
    expect(after).toMatchObject({ username: 'lovelace' });
    expect(after).not.toHaveProperty('roles');
    const again = await t.sessions.refresh(renamed.refreshToken);
    expect((await t.sessions.authenticate(again.accessToken))?.claims).toMatchObject({ username: 'lovelace' });
  });

  it.each(['sub', 'sid', 'sfp', 'typ', 'jti', 'iat', 'exp', 'nbf', 'iss', 'aud', 'auth_time'])(
    'refuses an app claim named %s with a TypeError naming it, before any session exists',
    async (name) => {
      const issue = t.sessions.issue(10, {}, { claims: { username: 'x', [name]: 'forged' } });
      await expect(issue).rejects.toThrow(TypeError);
      await expect(t.sessions.issue(10, {}, { claims: { [name]: 'forged' } })).rejects.toThrow(`'${name}'`);
      expect(await t.sessions.list(10)).toEqual([]);
    },
  );

  it.each([
    ['an array', ['admin'], /plain object/],
    ['a string', 'admin', /plain object/],
    ['a date', new Date(), /plain object/],
    ['a map', new Map([['roles', ['admin']]]), /plain object/],
    ['a cycle', (() => { const c: any = {}; c.self = c; return c; })(), /JSON-serializable/],
    ['too much', { blob: 'x'.repeat(5000) }, /under 4096 bytes/],
  ])('refuses claims that are %s', async (_case, claims, message) => {
    await expect(t.sessions.issue(11, {}, { claims: claims as any })).rejects.toThrow(message);
    const issued = await t.sessions.issue(11);
    await expect(t.sessions.renew(11, issued.sessionId, { claims: claims as any })).rejects.toThrow(message);
  });

  it('refuses garbage without touching the store', async () => {
    expect(await t.sessions.authenticate('not.a.token')).toBeNull();
    await expect(t.sessions.refresh('')).rejects.toEqual(expect.objectContaining({ reason: 'malformed' }));
  });
});

describe('SessionService.exchangeLegacyToken', () => {
  const until = new Date(Date.now() + 3_600_000);
  const legacy = (sub: unknown, secret = 'the-app-s-own-old-secret') => new JwtService({ secret }).sign({ sub, name: 'ada' }, { expiresIn: 60 });

  it('swaps a legacy token for a session until the transition ends, then refuses it', async () => {
    const t = await service(until);
    try {
      t.store.addUser(21);
      const issued = await t.sessions.exchangeLegacyToken(legacy(21), {}, { claims: { name: 'ada' } });
      expect(await t.sessions.authenticate(issued.accessToken)).toMatchObject({ userId: 21, claims: { name: 'ada' } });
      await expect(t.sessions.exchangeLegacyToken(issued.accessToken)).rejects.toBeInstanceOf(SessionRefusedError);
      await expect(t.sessions.exchangeLegacyToken(legacy(21, 'another-secret'))).rejects.toMatchObject({ reason: 'malformed' });
      const now = jest.spyOn(Date, 'now').mockReturnValue(until.getTime());
      try {
        await expect(t.sessions.exchangeLegacyToken(legacy(21))).rejects.toMatchObject({ reason: 'legacy' });
      } finally {
        now.mockRestore();
      }
    } finally {
      await t.close();
    }
  });

  it('refuses without the option', async () => {
    const t = await service();
    try {
      t.store.addUser(22);
      await expect(t.sessions.exchangeLegacyToken(legacy(22))).rejects.toBeInstanceOf(SessionRefusedError);
    } finally {
      await t.close();
    }
  });
});
