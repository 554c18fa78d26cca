import { Inject, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Observable } from 'rxjs';
import { randomUUID } from 'node:crypto';
import type { AuthSession } from './typeorm/entities/index.js';
import type {
  IssuedTokens,
  SessionClientInfo,
  SessionContext,
  SessionInfo,
  UserId,
} from './interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from './session-revocation-options.js';
import type { CachedSession, CachedUser } from './cache/revocation-cache.js';
import { RevocationNotifier } from './bus/revocation-notifier.js';
import { SessionEvents, type SessionEventListener } from './core/session-events.js';
import { ACCESS_TOKEN_TYP, LOGGER_CONTEXT, MAX_TOKEN_LENGTH, SESSION_ID_PATTERN, SESSION_REVOCATION_CONFIG } from './session-revocation.constants.js';
import { SessionStore } from './typeorm/typeorm-session.store.js';
import { FailClosed } from './utils/fail-closed.js';
import { hmacFingerprint, jwtKey, newRefreshToken, safeEqual, sha256 } from './utils/crypto.js';

/** Options of {@link SessionService.invalidateSessions}. */
export interface InvalidateSessionsOptions {
  /** A session to keep (the caller's, for "log out other devices"). */
  except?: string;
  /** Recorded on the ended sessions and in the event. Default `'invalidate'`. */
  reason?: string;
}

/** Emitted by {@link SessionService.watch} when the watched session has ended. */
export interface SessionEnded {
  /** The session that ended. */
  sessionId: string;
  /** When this instance noticed. */
  at: Date;
}

/** Tokens that {@link SessionService.logout} may be given; either one names the session. */
export interface LogoutTokens {
  /** The session's refresh token. */
  refreshToken?: string;
  /** An access token of the session, expired or not (its signature must still verify). */
  accessToken?: string;
}

interface AccessClaims {
  sub: string;
  sid: string;
  sfp: string;
  iat: number;
  exp: number;
}

/** Thrown by {@link SessionService.authenticate} when the database cannot answer (the guard answers 503). */
export class SessionStoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super('session store unavailable', { cause });
    this.name = 'SessionStoreUnavailableError';
  }
}

const refused = () => new UnauthorizedException();

/**
 * The session lifecycle: issue tokens at login, refresh them with rotation and reuse
 * detection, authenticate requests, list and end sessions, block users.
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly jwt = new JwtService({});
  private revokedBefore = { value: 0, readAt: -Infinity, generation: -1 };

  /** @internal */
  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    private readonly store: SessionStore,
    private readonly events: SessionEvents,
    private readonly notifier: RevocationNotifier,
  ) {}

  /**
   * Starts a session at login: creates the server-side record and returns an access token
   * carrying the user's current session-token fingerprint, plus a refresh token.
   * Refused with 401 when the user is blocked or does not exist.
   *
   * Pass the user entity your password check loaded (not just its id): the login is then also
   * refused when a `@RevokesSessions()` column (the password) changed while it ran, so a login
   * with an old password racing a password change cannot survive the change.
   */
  @FailClosed()
  async issue(user: object | UserId, client: SessionClientInfo = {}): Promise<IssuedTokens> {
    const userId = this.store.userIdOf(user);
    const checked = this.store.revokingValuesOf(user);
    // An invalidateSessions() running meanwhile may end the brand-new session right after its
    // insert: the login then starts over once, after that call is done.
    for (let attempt = 0; attempt < 2; attempt++) {
      const tokens = await this.startSession(userId, checked, client);
      const row = await this.store.findSession(tokens.sessionId);
      if (row && !row.revokedAt) {
        this.events.emit({ type: 'login', userId, sessionId: tokens.sessionId, ip: client.ip, userAgent: client.userAgent });
        return tokens;
      }
    }
    throw refused();
  }

  private async startSession(userId: UserId, checked: Record<string, unknown>, client: SessionClientInfo): Promise<IssuedTokens> {
    if (await this.store.isBlocked(userId)) {
      this.logger.warn(`login refused for blocked user=${userId}`);
      throw refused();
    }
    const userToken = await this.currentUserToken(userId);
    if (userToken === null) throw refused();
    const now = Date.now();
    const session: AuthSession = {
      id: randomUUID(),
      userId: String(userId),
      userTokenFingerprint: this.fingerprint(userId, userToken),
      userAgent: truncate(client.userAgent, 512),
      ip: truncate(client.ip, 64),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: Math.min(now + this.config.refreshTtlMs, now + this.config.sessionMaxAgeMs),
      absoluteExpiresAt: now + this.config.sessionMaxAgeMs,
      revokedAt: null,
      revokedReason: null,
    };
    await this.store.createSession(session);
    // Read again now that the session exists: a block or a credential change that raced this
    // login ends it; a plain rotation (log out everywhere) is adopted into its fingerprint, and
    // an invalidation that ended it is seen by issue().
    const current = await this.tokenIfUnchanged(userId, checked);
    if (current === null || (await this.store.isBlocked(userId))) {
      await this.store.revokeSession(session.id, undefined, 'login-race', now);
      this.logger.warn(`login refused for user=${userId}: the account was blocked or its credentials changed during the login`);
      throw refused();
    }
    if (current !== userToken) {
      session.userTokenFingerprint = this.fingerprint(userId, current);
      await this.store.updateSession(session.id, { userTokenFingerprint: session.userTokenFingerprint });
    }
    return this.mint(userId, session, now);
  }

  /**
   * The user's current session token, or null when the user is gone or a `@RevokesSessions()`
   * value the caller's entity carried (what it checked or saved) is no longer the stored one.
   */
  private async tokenIfUnchanged(userId: UserId, checked: Record<string, unknown>): Promise<string | null> {
    const state = await this.store.getUserState(userId, Object.keys(checked));
    if (!state || state.token === null) return null;
    return Object.entries(checked).every(([key, value]) => sameValue(value, state.values[key])) ? state.token : null;
  }

  /** The user's session token, created for users that have none yet (rows from before adoption). */
  private async currentUserToken(userId: UserId): Promise<string | null> {
    const { token, created } = await this.store.ensureUserToken(userId);
    // Other instances may have cached "no token" for this user.
    if (created) await this.notifier.revoke({ t: 'user', id: String(userId) });
    return token;
  }

  /**
   * Exchanges a refresh token for new tokens (rotation). A refresh token works once: a
   * second presentation ends the whole session (RFC 9700 section 4.14.2 reuse detection).
   * Refused with 401 for unknown, used, expired or revoked tokens and blocked users.
   */
  @FailClosed()
  async refresh(refreshToken: string, client: SessionClientInfo = {}): Promise<IssuedTokens> {
    if (typeof refreshToken !== 'string' || refreshToken.length === 0 || refreshToken.length > 512) throw refused();
    const tokenHash = sha256(refreshToken);
    const now = Date.now();
    if (!(await this.store.consumeRefreshToken(tokenHash, now))) {
      const known = await this.store.findRefreshToken(tokenHash);
      if (known?.usedAt) {
        const session = await this.store.findSession(known.sessionId);
        await this.store.revokeSession(known.sessionId, undefined, 'refresh-reuse', now);
        await this.notifier.revoke({ t: 'session', id: known.sessionId });
        this.events.emit({
          type: 'reuse-detected',
          userId: session ? this.store.parseUserId(session.userId) : undefined,
          sessionId: known.sessionId,
          reason: 'refresh-reuse',
          ip: client.ip,
          userAgent: client.userAgent,
        });
      }
      throw refused();
    }
    const row = await this.store.findRefreshToken(tokenHash);
    const session = row ? await this.store.findSession(row.sessionId) : null;
    const userId = session ? this.store.parseUserId(session.userId) : undefined;
    if (!row || !session || userId === undefined || row.expiresAt <= now) throw refused();
    // Minted before the session was renewed (a password change racing this refresh's predecessor).
    if (!safeEqual(row.userTokenFingerprint, session.userTokenFingerprint)) throw refused();
    if (!(await this.isLive(session, userId, now))) throw refused();
    session.expiresAt = Math.min(now + this.config.refreshTtlMs, session.absoluteExpiresAt);
    session.lastSeenAt = now;
    await this.store.updateSession(session.id, { expiresAt: session.expiresAt, lastSeenAt: now });
    const tokens = await this.mint(userId, session, now);
    this.events.emit({ type: 'refresh', userId, sessionId: session.id, ip: client.ip, userAgent: client.userAgent });
    return tokens;
  }

  /**
   * New tokens for a live session after the user's session token rotated (password or
   * email change by this user): the session continues, every other one has ended.
   * Refused with 401 when the session is not the user's or is over.
   *
   * Pass the entity you just saved (not just its id): renewal is then refused when a
   * `@RevokesSessions()` value changed again since (e.g. an administrator reset the password
   * meanwhile), instead of adopting that other change for this session.
   */
  @FailClosed()
  async renew(user: object | UserId, sessionId: string): Promise<IssuedTokens> {
    if (!isSessionId(sessionId)) throw refused();
    const userId = this.store.userIdOf(user);
    const now = Date.now();
    const session = await this.store.findSession(sessionId);
    if (!session || session.userId !== String(userId) || session.revokedAt || session.expiresAt <= now) throw refused();
    if (session.createdAt <= (await this.getRevokedBefore(now)) || (await this.store.isBlocked(userId))) throw refused();
    if ((await this.currentUserToken(userId)) === null) throw refused();
    const userToken = await this.tokenIfUnchanged(userId, this.store.revokingValuesOf(user));
    if (userToken === null) throw refused();
    session.userTokenFingerprint = this.fingerprint(userId, userToken);
    await this.store.updateSession(session.id, { userTokenFingerprint: session.userTokenFingerprint, lastSeenAt: now });
    await this.store.retireRefreshTokens(session.id, now);
    await this.notifier.revoke({ t: 'session', id: session.id });
    return this.mint(userId, session, now);
  }

  /**
   * Checks an access token: signature with the pinned algorithm, `exp`/`nbf`/`iss`/`aud`,
   * the user's current session-token fingerprint and the server-side session. Returns
   * null for any token that must be refused; throws {@link SessionStoreUnavailableError}
   * when the database cannot answer.
   */
  async authenticate(accessToken: string): Promise<SessionContext | null> {
    return this.check(accessToken, false);
  }

  /**
   * Watches the session of an access token and emits once, then completes, when that session
   * ends (revoked here or, with a bus, on another instance; logout; password change elsewhere;
   * block). Use it for a server-sent-events "you were signed out" notice. The token's own
   * expiry does not count as an end. Without a bus, ends made on other instances are noticed
   * by a re-check every `pollInterval` (default 5 s).
   */
  watch(accessToken: string, options: { pollInterval?: number } = {}): Observable<SessionEnded> {
    return new Observable<SessionEnded>((subscriber) => {
      let checking = false;
      let pending = false;
      const claims = this.verifyAccessToken(accessToken, true);
      const check = async () => {
        if (checking) {
          pending = true;
          return;
        }
        checking = true;
        try {
          do {
            pending = false;
            let active: SessionContext | null;
            try {
              active = await this.check(accessToken, true);
            } catch {
              continue; // store unavailable: unknown, keep watching
            }
            if (!active) {
              subscriber.next({ sessionId: claims?.sid ?? '', at: new Date() });
              subscriber.complete();
              return;
            }
          } while (pending);
        } finally {
          checking = false;
        }
      };
      const unsubscribe = this.notifier.subscribe((message) => {
        if (!claims) return;
        if (message.t === 'all' || message.id === claims.sid || message.id === claims.sub) void check();
      });
      const timer = setInterval(() => void check(), options.pollInterval ?? 5000);
      timer.unref?.();
      void check();
      return () => {
        unsubscribe();
        clearInterval(timer);
      };
    });
  }

  private async check(accessToken: string, ignoreExpiration: boolean): Promise<SessionContext | null> {
    const claims = this.verifyAccessToken(accessToken, ignoreExpiration);
    if (!claims) return null;
    const userId = this.store.parseUserId(claims.sub);
    if (userId === undefined) return null;
    const uid = String(userId);
    const cache = this.notifier.cache;
    try {
      const generation = cache.generation;
      let user = cache.getUser(uid);
      if (!user) {
        const userToken = await this.store.getUserToken(userId);
        user = { fingerprint: userToken === null ? null : this.fingerprint(userId, userToken) } satisfies CachedUser;
        cache.setUser(uid, user, generation);
      }
      if (user.fingerprint === null || !safeEqual(claims.sfp, user.fingerprint)) return null;
      let session = cache.getSession(claims.sid, user);
      if (!session) {
        const row = await this.store.findSession(claims.sid);
        if (!row) return null;
        session = {
          user,
          userId: row.userId,
          createdAt: row.createdAt,
          expiresAt: row.expiresAt,
          revokedAt: row.revokedAt,
          lastSeenAt: row.lastSeenAt,
        } satisfies CachedSession;
        cache.setSession(claims.sid, session, generation);
      }
      const now = Date.now();
      if (session.userId !== uid || session.revokedAt || session.expiresAt <= now) return null;
      if (session.createdAt <= (await this.getRevokedBefore(now))) return null;
      if (now - session.lastSeenAt >= this.config.lastSeenIntervalMs) {
        session.lastSeenAt = now;
        await this.store.touchSession(claims.sid, now);
      }
      return { userId, sessionId: claims.sid, issuedAt: claims.iat, expiresAt: claims.exp };
    } catch (error) {
      // A value the column type cannot hold (SQLSTATE class 22, e.g. an id out of range) names no
      // user or session: refuse the token. Anything else means the store cannot answer.
      if (isDataException(error)) return null;
      throw new SessionStoreUnavailableError(error);
    }
  }

  /**
   * Ends every session of a user ("log out of all devices"). Without `except`, the user's
   * session token is regenerated too, so every outstanding access token is refused on its
   * next request. With `except`, that one session continues untouched. Two statements at
   * most, whatever the number of sessions. Returns how many sessions were ended.
   */
  @FailClosed()
  async invalidateSessions(userId: UserId, options: InvalidateSessionsOptions = {}): Promise<number> {
    const reason = options.reason ?? 'invalidate';
    if (!options.except) await this.store.rotateUserToken(userId);
    const ended = await this.store.revokeUserSessions(userId, reason, Date.now(), options.except);
    await this.notifier.revoke({ t: 'user', id: String(userId) });
    this.events.emit({ type: 'invalidate', userId, sessionId: options.except, reason });
    return ended;
  }

  /** Ends one session of a user (device list). False when it is not a live session of theirs. */
  @FailClosed()
  async revokeSession(userId: UserId, sessionId: string, reason = 'revoke'): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    const ended = await this.store.revokeSession(sessionId, userId, reason, Date.now());
    if (ended) await this.notifier.revoke({ t: 'session', id: sessionId });
    if (ended) this.events.emit({ type: 'revoke', userId, sessionId, reason });
    return ended;
  }

  /**
   * The user's live sessions, newest first; `current` marks `currentSessionId`. Sessions that
   * ended because the user's session token rotated (a password change by any path) are left
   * out, except `currentSessionId` itself.
   */
  @FailClosed()
  async list(userId: UserId, currentSessionId?: string): Promise<SessionInfo[]> {
    const now = Date.now();
    const rows = await this.store.listLiveSessions(userId, now, await this.getRevokedBefore(now));
    // Sessions issued under an older session token ended with the rotation (password changed by
    // any path). The caller's own session stays listed: it may be between its own password
    // change and renew(), and a request that reached here was authenticated with it.
    const userToken = await this.store.getUserToken(userId);
    const fingerprint = userToken === null ? null : this.fingerprint(userId, userToken);
    const onCurrentToken = (s: AuthSession) => s.id === currentSessionId || (fingerprint !== null && safeEqual(s.userTokenFingerprint, fingerprint));
    return rows.filter(onCurrentToken).map((s) => ({
      id: s.id,
      current: s.id === currentSessionId,
      userAgent: s.userAgent,
      ip: s.ip,
      createdAt: new Date(s.createdAt),
      lastSeenAt: new Date(s.lastSeenAt),
    }));
  }

  /**
   * Ends the session named by a refresh token or an access token (which may be expired but
   * must carry a valid signature). Never throws for bad tokens: logout always succeeds.
   * Returns the ended session's id, if one was ended.
   */
  @FailClosed()
  async logout(tokens: LogoutTokens, client: SessionClientInfo = {}): Promise<string | undefined> {
    let sessionId: string | undefined;
    let userId: UserId | undefined;
    if (typeof tokens.refreshToken === 'string' && tokens.refreshToken.length > 0 && tokens.refreshToken.length <= 512) {
      const row = await this.store.findRefreshToken(sha256(tokens.refreshToken));
      if (row) sessionId = row.sessionId;
    }
    if (!sessionId && typeof tokens.accessToken === 'string') {
      const claims = this.verifyAccessToken(tokens.accessToken, true);
      userId = claims ? this.store.parseUserId(claims.sub) : undefined;
      if (claims && userId !== undefined) sessionId = claims.sid;
    }
    if (!sessionId) return undefined;
    if (!(await this.store.revokeSession(sessionId, userId, 'logout', Date.now()))) return undefined;
    await this.notifier.revoke({ t: 'session', id: sessionId });
    if (userId === undefined) {
      const session = await this.store.findSession(sessionId);
      userId = session ? this.store.parseUserId(session.userId) : undefined;
    }
    this.events.emit({ type: 'logout', userId, sessionId, reason: 'logout', ip: client.ip, userAgent: client.userAgent });
    return sessionId;
  }

  /** Blocks a user: ends all their sessions; login and refresh are refused until unblocked. */
  @FailClosed()
  async blockUser(userId: UserId, reason = 'blocked'): Promise<void> {
    await this.store.setBlocked(userId, Date.now());
    await this.store.rotateUserToken(userId);
    await this.store.revokeUserSessions(userId, reason, Date.now());
    await this.notifier.revoke({ t: 'user', id: String(userId) });
    this.events.emit({ type: 'block', userId, reason });
  }

  /** Lifts a block; the user can log in again (old sessions stay ended). */
  @FailClosed()
  async unblockUser(userId: UserId): Promise<void> {
    await this.store.setBlocked(userId, null);
    this.events.emit({ type: 'unblock', userId });
  }

  /** Whether a user is blocked. */
  @FailClosed()
  isBlocked(userId: UserId): Promise<boolean> {
    return this.store.isBlocked(userId);
  }

  /**
   * Ends every session of every user at once (e.g. after a signing-key compromise) with a
   * single write: sessions created until now are refused from here on.
   */
  @FailClosed()
  async invalidateAllSessions(reason = 'revoke-everyone'): Promise<void> {
    const now = Date.now();
    await this.store.setRevokedBefore(now);
    await this.notifier.revoke({ t: 'all' });
    this.events.emit({ type: 'revoke-everyone', reason });
  }

  /** Subscribes to session events in-process; returns an unsubscribe function. */
  onEvent(listener: SessionEventListener): () => void {
    return this.events.on(listener);
  }

  private async isLive(session: AuthSession, userId: UserId, now: number): Promise<boolean> {
    if (session.revokedAt || session.expiresAt <= now || session.absoluteExpiresAt <= now) return false;
    if (session.createdAt <= (await this.getRevokedBefore(now))) return false;
    if (await this.store.isBlocked(userId)) return false;
    const userToken = await this.store.getUserToken(userId);
    if (userToken === null || !safeEqual(session.userTokenFingerprint, this.fingerprint(userId, userToken))) {
      // The user's token rotated since this session was (re)issued: password change by any path.
      await this.store.revokeSession(session.id, undefined, 'session-token-rotated', now);
      await this.notifier.revoke({ t: 'session', id: session.id });
      return false;
    }
    return true;
  }

  private async mint(userId: UserId, session: AuthSession, now: number): Promise<IssuedTokens> {
    const refreshToken = newRefreshToken();
    await this.store.addRefreshToken({
      tokenHash: sha256(refreshToken),
      sessionId: session.id,
      userTokenFingerprint: session.userTokenFingerprint,
      createdAt: now,
      expiresAt: session.expiresAt,
      usedAt: null,
    });
    const expiresIn = Math.floor(this.config.accessTtlMs / 1000);
    const { algorithm, signingKey, options } = this.config;
    const accessToken = this.jwt.sign(
      { sid: session.id, sfp: session.userTokenFingerprint },
      {
        algorithm,
        ...(algorithm.startsWith('HS') ? { secret: jwtKey(signingKey) } : { privateKey: jwtKey(signingKey) }),
        header: { alg: algorithm, typ: ACCESS_TOKEN_TYP },
        subject: String(userId),
        jwtid: randomUUID(), // RFC 9068: every access token is distinct, even two minted in one second
        expiresIn,
        ...(options.jwt.issuer ? { issuer: options.jwt.issuer } : {}),
        ...(options.jwt.audience ? { audience: options.jwt.audience } : {}),
      },
    );
    return { accessToken, refreshToken, sessionId: session.id, expiresIn };
  }

  private verifyAccessToken(token: string, ignoreExpiration: boolean): AccessClaims | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    const { algorithm, verifyKey, options, clockToleranceSeconds } = this.config;
    let decoded: { header?: { typ?: unknown }; payload?: Record<string, unknown> };
    try {
      decoded = this.jwt.verify(token, {
        algorithms: [algorithm],
        ...(algorithm.startsWith('HS') ? { secret: jwtKey(verifyKey) } : { publicKey: jwtKey(verifyKey) }),
        complete: true,
        ignoreExpiration,
        clockTolerance: clockToleranceSeconds,
        ...(options.jwt.issuer ? { issuer: options.jwt.issuer } : {}),
        ...(options.jwt.audience ? { audience: options.jwt.audience } : {}),
      }) as typeof decoded;
    } catch {
      return null;
    }
    const payload = decoded?.payload;
    if (!payload || decoded.header?.typ !== ACCESS_TOKEN_TYP) return null;
    const { sub, sid, sfp, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof sfp !== 'string') return null;
    if (typeof exp !== 'number' || typeof iat !== 'number' || !isSessionId(sid)) return null;
    return { sub, sid, sfp, iat, exp };
  }

  private fingerprint(userId: UserId, userToken: string): string {
    return hmacFingerprint(this.config.fingerprintKey, `${userId}:${userToken}`);
  }

  private async getRevokedBefore(now: number): Promise<number> {
    // Cached like users and sessions: same TTL, bypassed in strict mode and while the bus is down.
    const cache = this.notifier.cache;
    const generation = cache.everythingGeneration;
    if (cache.bypassed || generation !== this.revokedBefore.generation || now - this.revokedBefore.readAt >= this.config.cacheTtlMs) {
      this.revokedBefore = { value: await this.store.getRevokedBefore(), readAt: now, generation };
    }
    return this.revokedBefore.value;
  }
}

/** Whether a column value read back equals the one a login was checked against. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (a instanceof Date || b instanceof Date) return new Date(a as Date).getTime() === new Date(b as Date).getTime();
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return String(a) === String(b);
}

function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.driverError?.code ?? (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && code.startsWith('22');
}

function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}

function truncate(value: string | undefined, max: number): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;
}
