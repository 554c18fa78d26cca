import { Test } from '@nestjs/testing';
import { SessionRevocationModule } from './session-revocation.module.js';
import { SessionRefusedError } from './session-revocation.errors.js';
import { SessionService } from './session.service.js';
import { MemorySessionStore } from './storage/memory-session.store.js';
import type { SessionEvent } from './interfaces/session-context.interface.js';

const secret = 'unit-test-secret-that-is-long-enough-0123';

async function service() {
  const store = new MemorySessionStore();
  const moduleRef = await Test.createTestingModule({
    imports: [SessionRevocationModule.forRoot({ store, jwt: { secret, issuer: 'unit', audience: 'unit' }, mountGuard: false })],
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

  it('refuses garbage without touching the store', async () => {
    expect(await t.sessions.authenticate('not.a.token')).toBeNull();
    await expect(t.sessions.refresh('')).rejects.toEqual(expect.objectContaining({ reason: 'malformed' }));
  });
});
