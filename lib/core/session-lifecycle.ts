import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IssueOptions, IssuedTokens, SessionClientInfo, SessionInfo, UserId } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError } from '../session-revocation.errors.js';
import { SessionStore, type SessionRecord } from '../storage/session-store.interface.js';
import { newRefreshToken, sha256 } from '../utils/crypto.js';
import { AccessTokens, appClaims, isSessionId } from './access-tokens.js';
import { sessionTokenIfUnchanged } from './checked-credentials.js';
import { SessionAuthenticator } from './session-authenticator.js';
import { SessionEvents } from './session-events.js';
import { SESSION_LIMIT_REASON, SessionLimiter } from './session-limiter.js';
import { fingerprintMatches } from './session-liveness.js';
import { SessionRevoker } from './session-revoker.js';

/** Tokens that `SessionService.logout` may be given; either one names the session. */
export interface LogoutTokens {
  /** The session's refresh token. */
  refreshToken?: string;
  /** An access token of the session, expired or not (its signature must still verify). */
  accessToken?: string;
}

const MAX_REFRESH_TOKEN_LENGTH = 512;

/**
 * A session from login to logout: issue, refresh (rotation with reuse detection), renew after
 * the user's own credential change, list, logout. Refusals throw `SessionRefusedError`.
 * @internal
 */
@Injectable()
export class SessionLifecycle {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly tokens: AccessTokens,
    private readonly authenticator: SessionAuthenticator,
    private readonly revoker: SessionRevoker,
    private readonly events: SessionEvents,
    private readonly limiter: SessionLimiter,
  ) {}

  async issue(user: object | UserId, client: SessionClientInfo = {}, options: IssueOptions = {}): Promise<IssuedTokens> {
    const claims = appClaims(options.claims);
    const userId = this.store.userIdOf(user);
    const checked = this.store.credentialsOf(user);
    // An invalidateSessions() running meanwhile may end the brand-new session right after its
    // insert: the login then starts over once, after that call is done. Newer logins past the
    // session limit may end it too: then it lost, and starting over would only evict another.
    for (let attempt = 0; attempt < 2; attempt++) {
      const tokens = await this.startSession(userId, checked, client, claims);
      const row = await this.store.findSession(tokens.sessionId);
      if (row && row.endedAt === null) {
        this.events.emit({ type: 'login', userId, sessionId: tokens.sessionId, ip: client.ip, userAgent: client.userAgent });
        return tokens;
      }
      if (row?.endReason === SESSION_LIMIT_REASON) throw new SessionRefusedError('session-limit');
    }
    throw new SessionRefusedError('race');
  }

  private async startSession(userId: UserId, checked: Record<string, unknown>, client: SessionClientInfo, claims: SessionRecord['claims']): Promise<IssuedTokens> {
    if (await this.store.isBlocked(userId)) {
      this.logger.warn(`login refused for blocked user=${userId}`);
      throw new SessionRefusedError('blocked');
    }
    const sessionToken = await this.ensureSessionToken(userId);
    const now = Date.now();
    const session: SessionRecord = {
      id: randomUUID(),
      userId: String(userId),
      sessionTokenFingerprint: this.tokens.fingerprint(userId, sessionToken),
      userAgent: truncate(client.userAgent, 512),
      ip: truncate(client.ip, 64),
      createdAt: now,
      lastSeenAt: now,
      authTime: now,
      expiresAt: Math.min(now + this.config.refreshTtlMs, now + this.config.sessionMaxAgeMs),
      absoluteExpiresAt: now + this.config.sessionMaxAgeMs,
      endedAt: null,
      endReason: null,
      claims,
    };
    await this.store.createSession(session);
    // Read again now that the session exists: a block or a credential change that raced this
    // login ends it; a plain rotation (log out everywhere) is adopted into its fingerprint, and
    // an invalidation that ended it is seen by issue().
    const current = await sessionTokenIfUnchanged(this.store, userId, checked);
    if (current === null || (await this.store.isBlocked(userId))) {
      await this.store.endSession(session.id, { reason: 'login-race', at: now });
      this.logger.warn(`login refused for user=${userId}: the account was blocked or its credentials changed during the login`);
      throw new SessionRefusedError('race');
    }
    if (current !== sessionToken) {
      session.sessionTokenFingerprint = this.tokens.fingerprint(userId, current);
      await this.store.updateSession(session.id, { sessionTokenFingerprint: session.sessionTokenFingerprint });
    }
    await this.limiter.enforce(userId, session);
    return this.mint(userId, session, now);
  }

  async refresh(refreshToken: string, client: SessionClientInfo = {}): Promise<IssuedTokens> {
    if (typeof refreshToken !== 'string' || refreshToken.length === 0 || refreshToken.length > MAX_REFRESH_TOKEN_LENGTH) {
      throw new SessionRefusedError('malformed');
    }
    const tokenHash = sha256(refreshToken);
    const now = Date.now();
    if (!(await this.store.consumeRefreshToken(tokenHash, now))) {
      const known = await this.store.findRefreshToken(tokenHash);
      if (!known?.usedAt) throw new SessionRefusedError('unknown');
      const session = await this.store.findSession(known.sessionId);
      await this.revoker.endSession(known.sessionId, 'refresh-reuse');
      this.events.emit({
        type: 'reuse-detected',
        userId: session ? this.store.parseUserId(session.userId) : undefined,
        sessionId: known.sessionId,
        reason: 'refresh-reuse',
        ip: client.ip,
        userAgent: client.userAgent,
      });
      throw new SessionRefusedError('reused');
    }
    const row = await this.store.findRefreshToken(tokenHash);
    const session = row ? await this.store.findSession(row.sessionId) : null;
    const userId = session ? this.store.parseUserId(session.userId) : undefined;
    if (!row || !session || userId === undefined) throw new SessionRefusedError('unknown');
    if (row.expiresAt <= now) throw new SessionRefusedError('expired');
    // Minted before the session was renewed (a password change racing this refresh's predecessor).
    if (!fingerprintMatches(row.sessionTokenFingerprint, session.sessionTokenFingerprint)) throw new SessionRefusedError('rotated');
    await this.assertLive(session, userId, now);
    session.expiresAt = Math.min(now + this.config.refreshTtlMs, session.absoluteExpiresAt);
    session.lastSeenAt = now;
    await this.store.updateSession(session.id, { expiresAt: session.expiresAt, lastSeenAt: now });
    const tokens = await this.mint(userId, session, now);
    this.events.emit({ type: 'refresh', userId, sessionId: session.id, ip: client.ip, userAgent: client.userAgent });
    return tokens;
  }

  async renew(user: object | UserId, sessionId: string, options: IssueOptions = {}): Promise<IssuedTokens> {
    const claims = options.claims === undefined ? undefined : appClaims(options.claims);
    if (!isSessionId(sessionId)) throw new SessionRefusedError('malformed');
    const userId = this.store.userIdOf(user);
    const now = Date.now();
    const session = await this.store.findSession(sessionId);
    if (!session) throw new SessionRefusedError('unknown');
    const cause = await this.authenticator.endCause(session, userId, now);
    if (cause) throw new SessionRefusedError(cause);
    if (await this.store.isBlocked(userId)) throw new SessionRefusedError('blocked');
    await this.ensureSessionToken(userId);
    const sessionToken = await sessionTokenIfUnchanged(this.store, userId, this.store.credentialsOf(user));
    if (sessionToken === null) throw new SessionRefusedError('race');
    session.sessionTokenFingerprint = this.tokens.fingerprint(userId, sessionToken);
    if (claims !== undefined) session.claims = claims;
    await this.store.updateSession(session.id, { sessionTokenFingerprint: session.sessionTokenFingerprint, lastSeenAt: now, ...(claims !== undefined ? { claims } : {}) });
    await this.store.retireRefreshTokens(session.id, now);
    await this.revoker.announceSession(session.id);
    return this.mint(userId, session, now);
  }

  async list(userId: UserId, currentSessionId?: string): Promise<SessionInfo[]> {
    // Sessions issued under an older session token ended with the rotation (password changed by
    // any path). The caller's own session stays listed: it may be between its own password
    // change and renew(), and a request that reached here was authenticated with it.
    const rows = await this.authenticator.liveSessions(userId, currentSessionId);
    return rows.map((s) => ({
        id: s.id,
        current: s.id === currentSessionId,
        userAgent: s.userAgent,
        ip: s.ip,
        createdAt: new Date(s.createdAt),
        lastSeenAt: new Date(s.lastSeenAt),
      }));
  }

  async logout(tokens: LogoutTokens, client: SessionClientInfo = {}): Promise<string | undefined> {
    let sessionId: string | undefined;
    let userId: UserId | undefined;
    const { refreshToken, accessToken } = tokens;
    if (typeof refreshToken === 'string' && refreshToken.length > 0 && refreshToken.length <= MAX_REFRESH_TOKEN_LENGTH) {
      sessionId = (await this.store.findRefreshToken(sha256(refreshToken)))?.sessionId;
    }
    if (!sessionId && typeof accessToken === 'string') {
      const claims = this.tokens.verify(accessToken, true);
      userId = claims ? this.store.parseUserId(claims.sub) : undefined;
      if (claims && userId !== undefined) sessionId = claims.sid;
    }
    if (!sessionId || !(await this.revoker.endSession(sessionId, 'logout', userId))) return undefined;
    if (userId === undefined) {
      const session = await this.store.findSession(sessionId);
      userId = session ? this.store.parseUserId(session.userId) : undefined;
    }
    this.events.emit({ type: 'logout', userId, sessionId, reason: 'logout', ip: client.ip, userAgent: client.userAgent });
    return sessionId;
  }

  /** Refuses a session that is over; ends one whose user's session token rotated since it was (re)issued. */
  private async assertLive(session: SessionRecord, userId: UserId, now: number): Promise<void> {
    const cause = await this.authenticator.endCause(session, undefined, now);
    if (cause) throw new SessionRefusedError(cause);
    if (await this.store.isBlocked(userId)) throw new SessionRefusedError('blocked');
    if (!fingerprintMatches(session.sessionTokenFingerprint, await this.authenticator.currentFingerprint(userId))) {
      // The user's token rotated since this session was (re)issued: password change by any path.
      await this.revoker.endSession(session.id, 'session-token-rotated');
      throw new SessionRefusedError('rotated');
    }
  }

  /** The user's session token, created for users that have none yet (rows from before adoption). */
  private async ensureSessionToken(userId: UserId): Promise<string> {
    const { sessionToken, created } = await this.store.ensureSessionToken(userId);
    // Other instances may have cached "no token" for this user.
    if (created) await this.revoker.announceUser(userId);
    if (sessionToken === null) throw new SessionRefusedError('unknown');
    return sessionToken;
  }

  private async mint(userId: UserId, session: SessionRecord, now: number): Promise<IssuedTokens> {
    const refreshToken = newRefreshToken();
    await this.store.addRefreshToken({
      tokenHash: sha256(refreshToken),
      sessionId: session.id,
      sessionTokenFingerprint: session.sessionTokenFingerprint,
      createdAt: now,
      expiresAt: session.expiresAt,
      usedAt: null,
    });
    const accessToken = this.tokens.mint(userId, session);
    return { accessToken, refreshToken, sessionId: session.id, expiresIn: this.tokens.expiresIn };
  }
}

function truncate(value: string | undefined, max: number): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;
}
