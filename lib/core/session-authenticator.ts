import { Inject, Injectable } from '@nestjs/common';
import { RevocationCache, type CachedSession, type CachedSessionFacts, type CachedToken } from '../cache/revocation-cache.js';
import type { SessionContext, UserId } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError, SessionRevocationError, SessionStoreUnavailableError, type SessionRefusalReason } from '../session-revocation.errors.js';
import { SessionStore, type SessionRecord, type SessionState } from '../storage/session-store.interface.js';
import { SingleFlight } from '../utils/single-flight.js';
import { AccessTokens, verifiedPayload, type AccessClaims } from './access-tokens.js';
import { LastSeenWriter } from './last-seen-writer.js';
import { fingerprintMatches, sessionEndCause, type LivenessRules, type SessionFacts } from './session-liveness.js';

/**
 * The per-request check shared by the guard, `SessionService.authenticate` and `watch`.
 *
 * Hit (the token string is cached, its session and user entries alive, within `cache.ttl`): the
 * signature was verified for that very string, so only its time claims are checked against the
 * clock, then the liveness policy; no query, one LRU move. Miss: the token is verified (unless its
 * entry is merely stale) and ONE store read (`readSessionState`: session, the user's session
 * token, the epoch) answers; concurrent misses of one session share that read. Nothing is served
 * from the cache in strict mode or while the bus is down. `lastSeenAt` is written in batches off
 * the request path ({@link LastSeenWriter}). Also the one reader of the revocation epoch.
 * @internal
 */
@Injectable()
export class SessionAuthenticator {
  private epochMemo = { value: 0, readAt: -Infinity, generation: -1 };
  private readonly reads = new SingleFlight<SessionState>();

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly cache: RevocationCache,
    private readonly tokens: AccessTokens,
    private readonly lastSeen: LastSeenWriter,
  ) {}

  /**
   * The session of an access token. Throws `SessionRefusedError` (with the reason) for any token
   * that must be refused, `SessionStoreUnavailableError` when the store cannot answer.
   *
   * @param ignoreExpiration accept an expired (but validly signed) token: for watching a session
   */
  async authenticate(accessToken: unknown, ignoreExpiration = false): Promise<SessionContext> {
    const now = Date.now();
    const entry = typeof accessToken === 'string' ? this.cache.getToken(accessToken) : undefined;
    if (entry && this.tokens.timesValid(entry, now, ignoreExpiration)) {
      if (this.cache.isLive(entry, now)) {
        const served = this.serveCached(accessToken as string, entry, now);
        if (served) return served;
      }
      // Verified before, only its session state is stale: read it again, without verifying again.
      return this.check(claimsOf(entry, accessToken as string), { token: accessToken as string });
    }
    const claims = this.tokens.verify(accessToken, ignoreExpiration);
    if (!claims) throw new SessionRefusedError('malformed');
    return this.check(claims, { token: accessToken as string });
  }

  /**
   * Checks the claims of a verified access token against the store (one read), and caches the
   * outcome under `token` when given.
   *
   * @param touch whether this counts as use of the session (moves `lastSeenAt`, which the idle
   *   timeout counts from); watching a session does not
   */
  async check(claims: AccessClaims, { touch = true, token }: { touch?: boolean; token?: string } = {}): Promise<SessionContext> {
    const userId = this.store.parseUserId(claims.sub);
    if (userId === undefined) throw new SessionRefusedError('unknown');
    try {
      const generation = this.cache.generation;
      const epochGeneration = this.cache.epochGeneration;
      const readAt = Date.now();
      const state = await this.read(claims.sid, userId, generation);
      // Only a read that found something refreshes the epoch memo: a "no such row" answer (a value
      // the store's column cannot hold) carries no epoch.
      if (this.cache.epochGeneration === epochGeneration && (state.session || state.sessionToken !== null)) {
        this.epochMemo = { value: state.epoch, readAt, generation: epochGeneration };
      }
      const fingerprint = state.sessionToken === null ? null : this.tokens.fingerprint(userId, state.sessionToken);
      if (!fingerprintMatches(claims.sfp, fingerprint)) throw new SessionRefusedError(fingerprint === null ? 'unknown' : 'rotated');
      const row = state.session;
      if (!row) throw new SessionRefusedError('unknown');
      this.lastSeen.applyTo(row);
      const now = Date.now();
      const cause = sessionEndCause(row, { now, epoch: state.epoch, idleTimeoutMs: this.config.idleTimeoutMs }, String(userId));
      if (cause) throw new SessionRefusedError(cause);
      const cached = token ? this.cache.setToken(token, claims, { userId, fingerprint: fingerprint! }, row, readAt, generation) : undefined;
      if (touch) this.touch(cached ?? row, claims.sid, now);
      return context(userId, claims, row.authTime, claims.payload);
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
    for (const row of rows) this.lastSeen.applyTo(row);
    return rows.filter((s) => !sessionEndCause(s, rules) && (s.id === keep || fingerprintMatches(s.sessionTokenFingerprint, fingerprint)));
  }

  /**
   * Why a stored session is over (undefined: it is live), by the liveness policy, with a use this
   * instance recorded but has not written yet applied to its `lastSeenAt`.
   *
   * @param userId when given, the session must belong to this user
   */
  async endCause(session: SessionFacts & { id: string }, userId?: UserId, now = Date.now()): Promise<SessionRefusalReason | undefined> {
    this.lastSeen.applyTo(session);
    return sessionEndCause(session, await this.rules(now), userId === undefined ? undefined : String(userId));
  }

  /**
   * The revocation epoch, cached like sessions: same TTL, refreshed by every store read, re-read
   * after every `{ t: 'all' }` revocation, bypassed in strict mode and while the bus is down.
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

  /**
   * A hit: the liveness policy on the cached facts. Undefined (the caller reads the store) when the
   * epoch memo is stale, or when the cached facts say idle: a cached `lastSeenAt` lags behind other
   * instances' writes, so the row decides.
   */
  private serveCached(token: string, entry: CachedToken, now: number): SessionContext | undefined {
    const memo = this.epochMemo;
    if (memo.generation !== this.cache.epochGeneration || now - memo.readAt >= this.config.cacheTtlMs) return undefined;
    const session = entry.session;
    const cause = sessionEndCause(session, { now, epoch: memo.value, idleTimeoutMs: this.config.idleTimeoutMs });
    if (cause === 'idle') return undefined;
    if (cause) throw new SessionRefusedError(cause);
    this.touch(session, session.id, now);
    return context(session.user.userId, { sid: session.id, iat: entry.iat, exp: entry.exp, auth_time: entry.authTime }, session.authTime, token);
  }

  /** Moves `lastSeenAt` (at most once per `lastSeenInterval`), written off the request path. */
  private touch(session: CachedSession | CachedSessionFacts, sessionId: string, now: number): void {
    if (now - session.lastSeenAt < this.config.lastSeenIntervalMs) return;
    session.lastSeenAt = now;
    this.lastSeen.record(sessionId, now);
  }

  /** One store read; concurrent misses of one session share it while the cache is in use. */
  private read(sessionId: string, userId: UserId, generation: number): Promise<SessionState> {
    const load = () => this.store.readSessionState(sessionId, userId);
    return this.cache.bypassed ? load() : this.reads.run(`${sessionId}\u0000${userId}`, generation, load);
  }
}

/** The claims of a cached token: `sub`, `sid` and `sfp` are those its entries were checked with. */
function claimsOf(entry: CachedToken, token: string): AccessClaims {
  const { session, iat, exp, nbf, authTime } = entry;
  const optional = { ...(nbf !== undefined ? { nbf } : {}), ...(authTime !== undefined ? { auth_time: authTime } : {}) };
  return { sub: session.user.id, sid: session.id, sfp: session.user.fingerprint, iat, exp, ...optional, payload: verifiedPayload(token) };
}

/**
 * The session context handed to the app. `claims` is the verified payload; on a cache hit it is
 * decoded from the token string (whose signature was verified) only when the app reads it.
 */
function context(
  userId: UserId,
  claims: Pick<AccessClaims, 'sid' | 'iat' | 'exp' | 'auth_time'>,
  sessionAuthTime: number,
  payload: Readonly<Record<string, unknown>> | string,
): SessionContext {
  let decoded = typeof payload === 'string' ? undefined : payload;
  return {
    userId,
    sessionId: claims.sid,
    issuedAt: claims.iat,
    expiresAt: claims.exp,
    // The later of the token's auth_time and the session's (a re-authentication since it was minted).
    authTime: Math.max(claims.auth_time ?? 0, Math.floor(sessionAuthTime / 1000)),
    get claims() {
      return (decoded ??= verifiedPayload(payload as string));
    },
  };
}
