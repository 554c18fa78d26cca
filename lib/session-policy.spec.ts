import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import { LastSeenWriter } from './core/last-seen-writer.js';
import { assertFreshSession } from './core/session-freshness.js';
import type { SessionEvent } from './interfaces/session-context.interface.js';
import type { SessionRevocationModuleOptions } from './interfaces/session-revocation-options.interface.js';
import { LoginAttempts } from './login-attempts.service.js';
import { SessionRevocationModule } from './session-revocation.module.js';
import { SessionNotFreshError, SessionRefusedError, TooManyAttemptsError } from './session-revocation.errors.js';
import { SessionService } from './session.service.js';
import { MemorySessionStore } from './storage/memory-session.store.js';

const secret = 'unit-test-secret-that-is-long-enough-0123';
const MINUTE = 60_000;

/** A module on the in-memory store, with a controllable clock (`t.advance(ms)`). */
async function policyModule(options: Partial<SessionRevocationModuleOptions> = {}) {
  let clock = Date.now();
  const now = jest.spyOn(Date, 'now').mockImplementation(() => clock);
  const store = new MemorySessionStore();
  const moduleRef = await Test.createTestingModule({
    imports: [SessionRevocationModule.forRoot({ store, jwt: { secret, issuer: 'unit', audience: 'unit' }, mountGuard: false, ...options })],
  }).compile();
  await moduleRef.init();
  const sessions = moduleRef.get(SessionService);
  const events: SessionEvent[] = [];
  sessions.onEvent((event) => void events.push(event));
  return {
    sessions,
    store,
    events,
    attempts: moduleRef.get(LoginAttempts),
    advance: (ms: number) => void (clock += ms),
    close: async () => {
      await moduleRef.close();
      now.mockRestore();
    },
  };
}
type PolicyModule = Awaited<ReturnType<typeof policyModule>>;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('session policy on the in-memory store', () => {
  let t: PolicyModule;
  afterEach(() => t?.close());

  describe('maxSessionsPerUser', () => {
    it("'evict-oldest': the fourth login of three allowed ends the oldest session, which is told so", async () => {
      t = await policyModule({ maxSessionsPerUser: 3 });
      const first = await t.sessions.issue(1, { ip: '198.51.100.1', userAgent: 'old phone' });
      const ended = firstValueFrom(t.sessions.watch(first.accessToken, { pollInterval: 60_000 }));
      t.advance(1);
      const rest = [];
      for (let i = 0; i < 3; i++) {
        rest.push(await t.sessions.issue(1));
        t.advance(1);
      }
      expect(await t.sessions.authenticate(first.accessToken)).toBeNull();
      await expect(t.sessions.refresh(first.refreshToken)).rejects.toBeInstanceOf(SessionRefusedError);
      for (const s of rest) expect(await t.sessions.authenticate(s.accessToken)).not.toBeNull();
      expect((await t.store.findSession(first.sessionId))?.endReason).toBe('session-limit');
      expect(await ended).toMatchObject({ sessionId: first.sessionId });
      expect(t.events.filter((e) => e.type === 'session-limit')).toEqual([
        expect.objectContaining({ userId: 1, sessionId: first.sessionId, reason: 'session-limit', ip: '198.51.100.1', userAgent: 'old phone' }),
      ]);
      expect(await t.sessions.list(1)).toHaveLength(3);
    });

    it("'refuse': a login past the limit is refused and the live sessions stay", async () => {
      t = await policyModule({ maxSessionsPerUser: 2, sessionLimitPolicy: 'refuse' });
      const kept = [await t.sessions.issue(2), await t.sessions.issue(2)];
      await expect(t.sessions.issue(2)).rejects.toEqual(expect.objectContaining({ reason: 'session-limit' }));
      for (const s of kept) expect(await t.sessions.authenticate(s.accessToken)).not.toBeNull();
      expect(await t.sessions.list(2)).toHaveLength(2);
      await t.sessions.logout({ refreshToken: kept[0].refreshToken });
      expect(await t.sessions.authenticate((await t.sessions.issue(2)).accessToken)).not.toBeNull();
    });

    it('counts only live sessions: ended, expired and idle ones do not take a place', async () => {
      t = await policyModule({ maxSessionsPerUser: 2, sessionLimitPolicy: 'refuse', idleTimeout: '10m' });
      const a = await t.sessions.issue(3);
      await t.sessions.logout({ accessToken: a.accessToken });
      await t.sessions.issue(3);
      t.advance(11 * MINUTE); // that one is idle now
      await t.sessions.issue(3);
      await expect(t.sessions.issue(3)).resolves.toMatchObject({ sessionId: expect.any(String) });
    });

    it('20 parallel logins leave exactly the limit alive, and each surviving login got tokens', async () => {
      t = await policyModule({ maxSessionsPerUser: 3 });
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => t.sessions.issue(4)));
      const live = await t.sessions.list(4);
      expect(live).toHaveLength(3);
      const issued = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ reason: 'session-limit' });
      const accepted = (await Promise.all(issued.map((s) => t.sessions.authenticate(s.accessToken)))).filter(Boolean);
      expect(accepted).toHaveLength(3);
      expect(new Set(live.map((s) => s.id))).toEqual(new Set(accepted.map((s) => s!.sessionId)));
    });

    it("'refuse': 20 parallel logins past the limit leave the sessions there were", async () => {
      t = await policyModule({ maxSessionsPerUser: 3, sessionLimitPolicy: 'refuse' });
      const kept = [await t.sessions.issue(4), await t.sessions.issue(4)];
      t.advance(1);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => t.sessions.issue(4)));
      const live = await t.sessions.list(4);
      expect(live.length).toBeLessThanOrEqual(3);
      expect(live.map((s) => s.id)).toEqual(expect.arrayContaining(kept.map((s) => s.sessionId)));
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(live.length - 2);
    });
  });

  describe('idleTimeout', () => {
    it('ends a session unused for the idle timeout, on requests and on refresh; use keeps it alive', async () => {
      t = await policyModule({ idleTimeout: '10m', lastSeenInterval: '1m' });
      const used = await t.sessions.issue(5);
      const unused = await t.sessions.issue(5);
      for (let i = 0; i < 3; i++) {
        t.advance(4 * MINUTE);
        expect(await t.sessions.authenticate(used.accessToken)).not.toBeNull(); // writes lastSeenAt
      }
      expect(await t.sessions.authenticate(unused.accessToken)).toBeNull();
      await expect(t.sessions.refresh(unused.refreshToken)).rejects.toEqual(expect.objectContaining({ reason: 'idle' }));
      const refreshed = await t.sessions.refresh(used.refreshToken);
      t.advance(9 * MINUTE);
      expect(await t.sessions.refresh(refreshed.refreshToken)).toMatchObject({ sessionId: used.sessionId });
      t.advance(10 * MINUTE);
      expect(await t.sessions.list(5)).toEqual([]);
    });

    it('a cached lastSeenAt that lags behind another instance\'s writes is read again before the session counts as idle', async () => {
      t = await policyModule({ idleTimeout: '30m', cache: { ttl: '2h' }, jwt: { secret, accessTtl: '1h' } });
      const other = await Test.createTestingModule({
        imports: [SessionRevocationModule.forRoot({ store: t.store, jwt: { secret, accessTtl: '1h' }, mountGuard: false })],
      }).compile();
      await other.init();
      try {
        const issued = await t.sessions.issue(17);
        expect(await t.sessions.authenticate(issued.accessToken)).not.toBeNull(); // cached here with lastSeenAt = now
        t.advance(20 * 60_000);
        expect(await other.get(SessionService).authenticate(issued.accessToken)).not.toBeNull(); // used on the other instance
        await other.get(LastSeenWriter).flush(); // its lastSeenAt write, batched: within 1 s of real time
        t.advance(15 * 60_000); // 35 min after this instance last saw it, 15 min after the other did
        expect(await t.sessions.authenticate(issued.accessToken)).not.toBeNull();
        t.advance(31 * 60_000);
        expect(await t.sessions.authenticate(issued.accessToken)).toBeNull();
      } finally {
        await other.close();
      }
    });

    it('watching a session is not using it: the watch reports the idle end', async () => {
      t = await policyModule({ idleTimeout: '2m', lastSeenInterval: '1s' });
      const issued = await t.sessions.issue(6);
      const ended = firstValueFrom(t.sessions.watch(issued.accessToken, { pollInterval: 20 }));
      t.advance(2 * MINUTE);
      expect(await ended).toMatchObject({ sessionId: issued.sessionId });
    });

    it('the absolute lifetime still ends a session that is used all the time', async () => {
      t = await policyModule({ idleTimeout: '1h', jwt: { secret, sessionMaxAge: '1d', accessTtl: '1h' } });
      let tokens = await t.sessions.issue(7);
      for (let i = 0; i < 28; i++) {
        t.advance(50 * MINUTE);
        tokens = await t.sessions.refresh(tokens.refreshToken);
      }
      t.advance(50 * MINUTE); // 24 h 10 min after the login, 50 min after the last refresh
      await expect(t.sessions.refresh(tokens.refreshToken)).rejects.toEqual(expect.objectContaining({ reason: 'expired' }));
    });
  });

  describe('fresh-session step-up', () => {
    it('a login is fresh; later it is not, until reauthenticate(); refreshed tokens carry the new auth_time', async () => {
      t = await policyModule({ idleTimeout: '1h' });
      const issued = await t.sessions.issue(8);
      const context = (await t.sessions.authenticate(issued.accessToken))!;
      expect(context.authTime).toBe(Math.floor(Date.now() / 1000));
      await expect(t.sessions.assertFreshSession(context, '5m')).resolves.toBeUndefined();
      t.advance(6 * MINUTE);
      const stale = (await t.sessions.authenticate(issued.accessToken))!;
      await expect(t.sessions.assertFreshSession(stale, '5m')).rejects.toEqual(new SessionNotFreshError(300));
      expect(() => assertFreshSession(stale, 300)).toThrow(SessionNotFreshError);

      const { authTime } = await t.sessions.reauthenticate(issued.sessionId, 8);
      expect(authTime.getTime()).toBe(Date.now());
      // The old context is re-checked against the record; the next request sees it directly.
      await expect(t.sessions.assertFreshSession(stale, '5m')).resolves.toBeUndefined();
      expect((await t.sessions.authenticate(issued.accessToken))!.authTime).toBe(Math.floor(Date.now() / 1000));
      const refreshed = await t.sessions.refresh(issued.refreshToken);
      const claims = JSON.parse(Buffer.from(refreshed.accessToken.split('.')[1], 'base64url').toString());
      expect(claims.auth_time).toBe(Math.floor(authTime.getTime() / 1000));
      expect(t.events.map((e) => e.type)).toContain('reauthenticate');
    });

    it('reauthenticate refuses sessions that are not the user\'s or are over, and blocked users', async () => {
      t = await policyModule();
      const mine = await t.sessions.issue(9);
      await expect(t.sessions.reauthenticate(mine.sessionId, 10)).rejects.toEqual(expect.objectContaining({ reason: 'unknown' }));
      await expect(t.sessions.reauthenticate('not-a-session', 9)).rejects.toEqual(expect.objectContaining({ reason: 'malformed' }));
      await t.sessions.logout({ refreshToken: mine.refreshToken });
      await expect(t.sessions.reauthenticate(mine.sessionId, 9)).rejects.toEqual(expect.objectContaining({ reason: 'revoked' }));
      const other = await t.sessions.issue(9);
      await t.store.setBlocked(9, Date.now());
      await expect(t.sessions.reauthenticate(other.sessionId, 9)).rejects.toEqual(expect.objectContaining({ reason: 'blocked' }));
    });

    it('refuses a maxAge that is not a duration', () => {
      expect(() => assertFreshSession({ authTime: 0 }, 'soon')).toThrow(/RequireFreshSession maxAge/);
    });
  });

  describe('LoginAttempts', () => {
    const fail = async (attempts: LoginAttempts, account = 'victim@example.com', ip = '203.0.113.9') =>
      attempts.attempt({ account, ip, userId: 11 }, async () => null);

    it('backs off 0,0,0,1,2,4,8 s after failures, caps at maxDelay, and lets the right password in once the wait is over', async () => {
      t = await policyModule({ loginAttempts: { maxDelay: '15m' } });
      expect([1, 2, 3, 4, 5, 6, 7, 13, 14, 30].map((n) => t.attempts.backoffMs(n))).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 512_000, 900_000, 900_000]);
      for (let i = 0; i < 3; i++) expect(await fail(t.attempts)).toBeNull();
      await t.attempts.assertAllowed({ account: 'victim@example.com' }); // 3 free failures
      expect(await fail(t.attempts)).toBeNull(); // the 4th: 1 s wait from now
      const refused = await t.attempts.attempt({ account: 'Victim@Example.com ', ip: '198.51.100.2' }, async () => 'user').catch((e: unknown) => e);
      expect(refused).toEqual(new TooManyAttemptsError(1, 'account'));
      t.advance(1000);
      expect(await t.attempts.attempt({ account: 'victim@example.com' }, async () => 'user')).toBe('user');
      await t.attempts.assertAllowed({ account: 'victim@example.com' }); // cleared by the success
      expect(t.events.filter((e) => e.type === 'login-failed')).toHaveLength(4);
      expect(t.events.find((e) => e.type === 'login-failed')).toEqual(expect.objectContaining({ userId: 11, ip: '203.0.113.9', reason: 'failures=1' }));
    });

    it('forgets a series a window after it began', async () => {
      t = await policyModule({ loginAttempts: { window: '1h', freeAttempts: 0 } });
      await t.attempts.recordFailure({ account: 'victim@example.com' });
      await t.attempts.recordFailure({ account: 'victim@example.com' });
      await expect(t.attempts.assertAllowed({ account: 'victim@example.com' })).rejects.toBeInstanceOf(TooManyAttemptsError);
      t.advance(61 * MINUTE);
      await expect(t.attempts.assertAllowed({ account: 'victim@example.com' })).resolves.toBeUndefined();
    });

    it('limits failures per IP across accounts (an IPv6 /64 counts as one), and can be turned off', async () => {
      t = await policyModule({ loginAttempts: { perIp: { max: 3, window: '10m' } } });
      for (let i = 0; i < 3; i++) await fail(t.attempts, `user${i}@example.com`, `2001:db8:1:2::${i + 1}`);
      const refused = await t.attempts.assertAllowed({ account: 'new@example.com', ip: '2001:db8:1:2:ffff::9' }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ scope: 'ip', retryAfterSeconds: 600, status: 429 });
      await expect(t.attempts.assertAllowed({ account: 'new@example.com', ip: '2001:db8:1:3::1' })).resolves.toBeUndefined();
      t.advance(10 * MINUTE + 1);
      await expect(t.attempts.assertAllowed({ account: 'new@example.com', ip: '2001:db8:1:2::1' })).resolves.toBeUndefined();
      await t.close();
      t = await policyModule({ loginAttempts: { perIp: false, freeAttempts: 100 } });
      for (let i = 0; i < 150; i++) await fail(t.attempts, `user${i}@example.com`);
      await expect(t.attempts.assertAllowed({ account: 'x@example.com', ip: '203.0.113.9' })).resolves.toBeUndefined();
    });
  });

  describe('activity log', () => {
    it('records a user\'s security events newest first, without refreshes, tokens or hashes', async () => {
      t = await policyModule({ audit: true, maxSessionsPerUser: 1 });
      const client = { ip: '203.0.113.5', userAgent: 'Firefox' };
      const first = await t.sessions.issue(12, client);
      t.advance(1);
      await t.sessions.refresh(first.refreshToken, client);
      await t.attempts.recordFailure({ account: 'a@example.com', userId: 12, ...client });
      t.advance(1);
      const second = await t.sessions.issue(12, client); // evicts the first
      t.advance(1);
      await t.sessions.invalidateSessions(12, { except: second.sessionId, reason: 'password-change' });
      t.advance(1);
      await t.sessions.logout({ accessToken: second.accessToken }, client);
      const activity = await t.sessions.activity(12);
      expect(activity.map((a) => [a.type, a.reason])).toEqual([
        ['logout', 'logout'],
        ['invalidate', 'password-change'],
        ['login', null],
        ['session-limit', 'session-limit'],
        ['login-failed', 'failures=1'],
        ['login', null],
      ]);
      expect(activity[0]).toEqual({ type: 'logout', at: new Date(Date.now()), sessionId: second.sessionId, reason: 'logout', ip: '203.0.113.5', userAgent: 'Firefox' });
      expect(await t.sessions.activity(12, { limit: 2 })).toHaveLength(2);
      const text = JSON.stringify(activity);
      for (const value of [first.accessToken, first.refreshToken, second.refreshToken]) expect(text).not.toContain(value);
      expect(await t.sessions.activity(13)).toEqual([]);
    });

    it('is off by default, and pruned past its retention', async () => {
      t = await policyModule();
      await t.sessions.issue(14);
      expect(await t.sessions.activity(14)).toEqual([]);
      await t.close();
      t = await policyModule({ audit: { retain: '1d' } });
      await t.sessions.issue(14);
      t.advance(86_400_000 + 1);
      await t.sessions.issue(14);
      expect(await t.sessions.prune()).toMatchObject({ activity: 1 });
      expect((await t.sessions.activity(14)).map((a) => a.type)).toEqual(['login']);
    });
  });

  describe('prune', () => {
    it('deletes sessions over for longer than olderThan, and keeps reuse detection for the rest', async () => {
      t = await policyModule({ idleTimeout: '1h' });
      const ended = await t.sessions.issue(15);
      await t.sessions.logout({ refreshToken: ended.refreshToken });
      const live = await t.sessions.issue(15);
      const next = await t.sessions.refresh(live.refreshToken);
      t.advance(50 * MINUTE);
      await t.sessions.refresh(next.refreshToken);
      expect(await t.sessions.prune({ olderThan: '30m' })).toEqual({ sessions: 1, refreshTokens: 0, attempts: 0, activity: 0 });
      expect(await t.store.findSession(ended.sessionId)).toBeNull();
      await expect(t.sessions.refresh(live.refreshToken)).rejects.toEqual(expect.objectContaining({ reason: 'reused' }));
      await expect(t.sessions.prune({ olderThan: 'soon' })).rejects.toThrow(/olderThan must be a duration/);
    });

    it('runs periodically with prune: { every, retain }, once at a time', async () => {
      t = await policyModule({ prune: { every: '1h', retain: '1d' } });
      const issued = await t.sessions.issue(16);
      await t.sessions.logout({ refreshToken: issued.refreshToken });
      t.advance(2 * 86_400_000);
      const pruner = (t.sessions as any).pruner;
      const [a, b] = await Promise.all([pruner.runPeriodic(), pruner.runPeriodic()]);
      expect([a?.sessions, b?.sessions].sort()).toEqual([1, undefined]);
      expect(await t.store.findSession(issued.sessionId)).toBeNull();
      await flush();
    });
  });
});
