import { Inject, Injectable } from '@nestjs/common';
import { RevocationCache, type CachedSession, type CachedUser } from '../cache/revocation-cache.js';
import type { SessionContext, UserId } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError, SessionRevocationError, SessionStoreUnavailableError } from '../session-revocation.errors.js';
import { SessionStore, type SessionRecord } from '../storage/session-store.interface.js';
import { AccessTokens, type AccessClaims } from './access-tokens.js';
import { fingerprintMatches, sessionEndCause, type LivenessRules } from './session-liveness.js';

/**
 * The per-request check shared by the guard, `SessionService.authenticate` and `watch`: verifies
 * the access token, then compares it with the user's current session-token fingerprint and the
 * server-side session, served from the bounded cache while the bus is healthy. Also the one
 * reader of the revocation epoch.
 * @internal
 */
@Injectable()
export class SessionAuthenticator {
  private epochMemo = { value: 0, readAt: -Infinity, generation: -1 };

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly cache: RevocationCache,
    private readonly tokens: AccessTokens,
  ) {}

  /**
   * The session of an access token. Throws `SessionRefusedError` (with the reason) for any token
   * that must be refused, `SessionStoreUnavailableError` when the store cannot answer.
   *
   * @param ignoreExpiration accept an expired (but validly signed) token: for watching a session
   */
  async authenticate(accessToken: unknown, ignoreExpiration = false): Promise<SessionContext> {
    const claims = this.tokens.verify(accessToken, ignoreExpiration);
    if (!claims) throw new SessionRefusedError('malformed');
    return this.check(claims);
  }

  /**
   * Checks the claims of a verified access token against the store.
   *
   * @param touch whether this counts as use of the session (writes `lastSeenAt`, which the idle
   *   timeout counts from); watching a session does not
   */
  async check(claims: AccessClaims, { touch = true }: { touch?: boolean } = {}): Promise<SessionContext> {
    const userId = this.store.parseUserId(claims.sub);
    if (userId === undefined) throw new SessionRefusedError('unknown');
    try {
      const user = await this.user(userId);
      if (!fingerprintMatches(claims.sfp, user.fingerprint)) throw new SessionRefusedError(user.fingerprint === null ? 'unknown' : 'rotated');
      let session = await this.session(claims.sid, user);
      const now = Date.now();
      const rules = await this.rules(now);
      let cause = session ? sessionEndCause(session, rules, String(userId)) : 'unknown';
      // A cached lastSeenAt lags behind other instances' writes: read the row before calling it idle.
      if (cause === 'idle') {
        session = await this.session(claims.sid, user, true);
        cause = session ? sessionEndCause(session, rules, String(userId)) : 'unknown';
      }
      if (cause || !session) throw new SessionRefusedError(cause ?? 'unknown');
      if (touch && now - session.lastSeenAt >= this.config.lastSeenIntervalMs) {
        session.lastSeenAt = now;
        await this.store.updateSession(claims.sid, { lastSeenAt: now });
      }
      const authTime = Math.max(claims.auth_time ?? 0, Math.floor(session.authTime / 1000));
      return { userId, sessionId: claims.sid, issuedAt: claims.iat, expiresAt: claims.exp, authTime, claims: claims.payload };
    } catch (error) {
      if (error instanceof SessionRevocationError) throw error;
      throw new SessionStoreUnavailableError(error);
    }
  }

  /** The time, epoch and idle timeout every liveness decision is made with. */
  async rules(now = Date.now()): Promise<LivenessRules> {
    return { now, epoch: await this.epoch(now), idleTimeoutMs: this.config.idleTimeoutMs };
  }

  /**
   * The user's sessions the per-request check would accept, newest first: open, not expired or
   * idle, and issued under the user's current session token. `keep` stays listed whatever its
   * fingerprint (the caller's own session, between its password change and `renew()`).
   */
  async liveSessions(userId: UserId, keep?: string): Promise<SessionRecord[]> {
    const rules = await this.rules();
    const rows = await this.store.listOpenSessions(userId);
    const fingerprint = await this.currentFingerprint(userId);
    return rows.filter((s) => !sessionEndCause(s, rules) && (s.id === keep || fingerprintMatches(s.sessionTokenFingerprint, fingerprint)));
  }

  /**
   * The revocation epoch, cached like users and sessions: same TTL, re-read after every
   * `{ t: 'all' }` revocation, bypassed in strict mode and while the bus is down.
   */
  async epoch(now = Date.now()): Promise<number> {
    const generation = this.cache.epochGeneration;
    const memo = this.epochMemo;
    if (this.cache.bypassed || generation !== memo.generation || now - memo.readAt >= this.config.cacheTtlMs) {
      this.epochMemo = { value: await this.store.getEpoch(), readAt: now, generation };
    }
    return this.epochMemo.value;
  }

  /** The fingerprint of the user's current session token; null when the user has none or is gone. */
  async currentFingerprint(userId: UserId): Promise<string | null> {
    const token = await this.store.getSessionToken(userId);
    return token === null ? null : this.tokens.fingerprint(userId, token);
  }

  private async user(userId: UserId): Promise<CachedUser> {
    const uid = String(userId);
    const generation = this.cache.generation;
    let user = this.cache.getUser(uid);
    if (!user) {
      user = { fingerprint: await this.currentFingerprint(userId) };
      this.cache.setUser(uid, user, generation);
    }
    return user;
  }

  private async session(sessionId: string, user: CachedUser, reload = false): Promise<CachedSession | null> {
    const generation = this.cache.generation;
    let session = reload ? undefined : this.cache.getSession(sessionId, user);
    if (!session) {
      const row = await this.store.findSession(sessionId);
      if (!row) return null;
      const { userId, createdAt, expiresAt, absoluteExpiresAt, endedAt, lastSeenAt, authTime } = row;
      session = { user, userId, createdAt, expiresAt, absoluteExpiresAt, endedAt, lastSeenAt, authTime };
      this.cache.setSession(sessionId, session, generation);
    }
    return session;
  }
}
