import { Inject, Injectable } from '@nestjs/common';
import { RevocationCache, type CachedSession, type CachedUser } from '../cache/revocation-cache.js';
import type { SessionContext, UserId } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError, SessionRevocationError, SessionStoreUnavailableError } from '../session-revocation.errors.js';
import { SessionStore } from '../storage/session-store.interface.js';
import { AccessTokens, type AccessClaims } from './access-tokens.js';
import { fingerprintMatches, sessionEndCause } from './session-liveness.js';

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

  /** Checks the claims of a verified access token against the store. */
  async check(claims: AccessClaims): Promise<SessionContext> {
    const userId = this.store.parseUserId(claims.sub);
    if (userId === undefined) throw new SessionRefusedError('unknown');
    try {
      const user = await this.user(userId);
      if (!fingerprintMatches(claims.sfp, user.fingerprint)) throw new SessionRefusedError(user.fingerprint === null ? 'unknown' : 'rotated');
      const session = await this.session(claims.sid, user);
      if (!session) throw new SessionRefusedError('unknown');
      const now = Date.now();
      const cause = sessionEndCause(session, now, await this.epoch(now), String(userId));
      if (cause) throw new SessionRefusedError(cause);
      if (now - session.lastSeenAt >= this.config.lastSeenIntervalMs) {
        session.lastSeenAt = now;
        await this.store.updateSession(claims.sid, { lastSeenAt: now });
      }
      return { userId, sessionId: claims.sid, issuedAt: claims.iat, expiresAt: claims.exp, claims: claims.payload };
    } catch (error) {
      if (error instanceof SessionRevocationError) throw error;
      throw new SessionStoreUnavailableError(error);
    }
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

  private async session(sessionId: string, user: CachedUser): Promise<CachedSession | null> {
    const generation = this.cache.generation;
    let session = this.cache.getSession(sessionId, user);
    if (!session) {
      const row = await this.store.findSession(sessionId);
      if (!row) return null;
      const { userId, createdAt, expiresAt, absoluteExpiresAt, endedAt, lastSeenAt } = row;
      session = { user, userId, createdAt, expiresAt, absoluteExpiresAt, endedAt, lastSeenAt };
      this.cache.setSession(sessionId, session, generation);
    }
    return session;
  }
}
