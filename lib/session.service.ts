import { Inject, Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { LegacyTokens } from './core/legacy-tokens.js';
import { SessionActivity, type SessionActivityEntry } from './core/session-activity.js';
import { SessionAuthenticator } from './core/session-authenticator.js';
import { SessionEvents, type SessionEventListener } from './core/session-events.js';
import { SessionLifecycle, type LogoutTokens } from './core/session-lifecycle.js';
import { SessionPruner, type PruneOptions } from './core/session-pruner.js';
import { SessionRevoker, type InvalidateSessionsOptions } from './core/session-revoker.js';
import { SessionStepUp } from './core/session-step-up.js';
import { SessionWatcher, type SessionEnded } from './core/session-watcher.js';
import type { IssueOptions, IssuedTokens, SessionClientInfo, SessionContext, SessionInfo, UserId } from './interfaces/session-context.interface.js';
import { SessionRefusedError } from './session-revocation.errors.js';
import { SessionStore, type PruneCounts } from './storage/session-store.interface.js';

export type { InvalidateSessionsOptions, LogoutTokens, PruneOptions, SessionActivityEntry, SessionEnded };

/**
 * The session lifecycle: issue tokens at login, refresh them with rotation and reuse
 * detection, authenticate requests, list and end sessions, block users.
 *
 * Refusals reject with `SessionRefusedError` (the module's filter answers 401 with a generic body;
 * `error.reason` says why, for logs); a store that cannot answer rejects with
 * `SessionStoreUnavailableError` (503).
 */
@Injectable()
export class SessionService {
  /** @internal */
  constructor(
    private readonly lifecycle: SessionLifecycle,
    private readonly revoker: SessionRevoker,
    private readonly authenticator: SessionAuthenticator,
    private readonly watcher: SessionWatcher,
    private readonly events: SessionEvents,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly legacy: LegacyTokens,
    private readonly stepUp: SessionStepUp,
    private readonly pruner: SessionPruner,
    private readonly activityLog: SessionActivity,
  ) {}

  /**
   * Starts a session at login: creates the server-side record and returns an access token
   * carrying the user's current session-token fingerprint, plus a refresh token.
   * Refused when the user is blocked or does not exist.
   *
   * Pass the user entity your password check loaded (not just its id): the login is then also
   * refused when a `@RevokesSessions()` column (the password) changed while it ran, so a login
   * with an old password racing a password change cannot survive the change.
   *
   * `options.claims` puts the app's own claims (`username`, `roles`, ...) into the access tokens of
   * the session, this one and every refreshed one; a reserved claim name throws a `TypeError`.
   */
  issue(user: object | UserId, client: SessionClientInfo = {}, options: IssueOptions = {}): Promise<IssuedTokens> {
    return this.lifecycle.issue(user, client, options);
  }

  /**
   * The refresh bridge of a migration (`legacyTokens` option): verifies one of the app's own
   * pre-adoption tokens like the guard does (inside the transition window, user not blocked) and
   * starts a real session for its user, as `issue()` does. Refused (`SessionRefusedError`) for
   * anything else, library tokens included. The legacy token itself stays valid until its `exp`:
   * clients should drop it once exchanged.
   */
  async exchangeLegacyToken(legacyToken: string, client: SessionClientInfo = {}, options: IssueOptions = {}): Promise<IssuedTokens> {
    const { userId } = await this.legacy.authenticate(legacyToken);
    return this.lifecycle.issue(userId, client, options);
  }

  /**
   * Exchanges a refresh token for new tokens (rotation). A refresh token works once: a
   * second presentation ends the whole session (RFC 9700 section 4.14.2 reuse detection).
   * Refused for unknown, used, expired or revoked tokens and blocked users.
   */
  refresh(refreshToken: string, client: SessionClientInfo = {}): Promise<IssuedTokens> {
    return this.lifecycle.refresh(refreshToken, client);
  }

  /**
   * New tokens for a live session after the user's session token rotated (password or
   * email change by this user): the session continues, every other one has ended.
   * Refused when the session is not the user's or is over.
   *
   * Pass the entity you just saved (not just its id): renewal is then refused when a
   * `@RevokesSessions()` value changed again since (e.g. an administrator reset the password
   * meanwhile), instead of adopting that other change for this session.
   *
   * `options.claims` replaces the session's app claims (e.g. a changed `username`); without it
   * they stay as they were.
   */
  renew(user: object | UserId, sessionId: string, options: IssueOptions = {}): Promise<IssuedTokens> {
    return this.lifecycle.renew(user, sessionId, options);
  }

  /**
   * Checks an access token: signature with the pinned algorithm, `exp`/`nbf`/`iss`/`aud`,
   * the user's current session-token fingerprint and the server-side session. Returns
   * null for any token that must be refused; rejects with `SessionStoreUnavailableError`
   * when the store cannot answer.
   */
  async authenticate(accessToken: string): Promise<SessionContext | null> {
    try {
      return await this.authenticator.authenticate(accessToken);
    } catch (error) {
      if (error instanceof SessionRefusedError) return null;
      throw error;
    }
  }

  /**
   * Watches the session of an access token and emits once, then completes, when that session
   * ends (revoked here or, with a bus, on another instance; logout; password change elsewhere;
   * block). Use it for a server-sent-events "you were signed out" notice. The token's own
   * expiry does not count as an end. Without a bus, ends made on other instances are noticed
   * by a re-check every `pollInterval` (default 5 s).
   */
  watch(accessToken: string, options: { pollInterval?: number } = {}): Observable<SessionEnded> {
    return this.watcher.watch(accessToken, options);
  }

  /**
   * Ends every session of a user ("log out of all devices"). Without `except`, the user's
   * session token is regenerated too, so every outstanding access token is refused on its
   * next request. With `except`, that one session continues untouched. Two statements at
   * most, whatever the number of sessions. Returns how many sessions were ended.
   */
  invalidateSessions(userId: UserId, options: InvalidateSessionsOptions = {}): Promise<number> {
    return this.revoker.invalidateSessions(userId, options);
  }

  /** Ends one session of a user (device list). False when it is not a live session of theirs. */
  revokeSession(userId: UserId, sessionId: string, reason = 'revoke'): Promise<boolean> {
    return this.revoker.revokeSession(userId, sessionId, reason);
  }

  /**
   * The user's live sessions, newest first; `current` marks `currentSessionId`. Sessions that
   * ended because the user's session token rotated (a password change by any path) are left
   * out, except `currentSessionId` itself.
   */
  list(userId: UserId, currentSessionId?: string): Promise<SessionInfo[]> {
    return this.lifecycle.list(userId, currentSessionId);
  }

  /**
   * Ends the session named by a refresh token or an access token (which may be expired but
   * must carry a valid signature). Never refuses for bad tokens: logout always succeeds.
   * Returns the ended session's id, if one was ended.
   */
  logout(tokens: LogoutTokens, client: SessionClientInfo = {}): Promise<string | undefined> {
    return this.lifecycle.logout(tokens, client);
  }

  /** Blocks a user: ends all their sessions; login and refresh are refused until unblocked. */
  blockUser(userId: UserId, reason = 'blocked'): Promise<void> {
    return this.revoker.blockUser(userId, reason);
  }

  /** Lifts a block; the user can log in again (old sessions stay ended). */
  unblockUser(userId: UserId): Promise<void> {
    return this.revoker.unblockUser(userId);
  }

  /** Whether a user is blocked. */
  isBlocked(userId: UserId): Promise<boolean> {
    return this.store.isBlocked(userId);
  }

  /**
   * Ends every session of every user at once (e.g. after a signing-key compromise) with a
   * single write: sessions created until now are refused from here on.
   */
  invalidateAllSessions(reason = 'revoke-everyone'): Promise<void> {
    return this.revoker.invalidateAllSessions(reason);
  }

  /**
   * Records that the user just proved a credential again in this session (call it after your own
   * password check): the session is fresh for `@RequireFreshSession()` from now on, on every
   * instance, and access tokens minted from now on (refresh, renewal) carry the new `auth_time`.
   * Pass the user entity your check loaded: refused (`SessionRefusedError`) when the session is
   * not the user's or is over, the user is blocked, or a `@RevokesSessions()` value changed since.
   */
  reauthenticate(sessionId: string, user: object | UserId): Promise<{ authTime: Date }> {
    return this.stepUp.reauthenticate(sessionId, user);
  }

  /**
   * Throws `SessionNotFreshError` (401 with the RFC 9470 challenge) unless the user proved a
   * credential in this session at most `maxAge` ago. When the request's context looks too old,
   * the session record is read first, so a re-authentication on another instance counts at once.
   *
   * @param maxAge a duration like `'5m'`, or seconds
   */
  assertFreshSession(session: SessionContext, maxAge: string | number): Promise<void> {
    return this.stepUp.assertFresh(session, maxAge);
  }

  /**
   * Deletes sessions that have been over (ended, expired, idle) for longer than `olderThan`, with
   * their refresh tokens; refresh tokens expired as long; failed-attempt counters that no longer
   * count; activity entries past `audit.retain`. In batches of 500 rows per statement. Reuse
   * detection keeps working for every session still stored.
   */
  prune(options: PruneOptions = {}): Promise<PruneCounts> {
    return this.pruner.prune(options);
  }

  /**
   * The user's security activity, newest first (at most `limit`, default 50, up to 500): sign-ins,
   * failed sign-ins, sign-outs, revocations, session-limit evictions, re-authentications, blocks.
   * Needs the `audit` option; without it the list is empty.
   */
  activity(userId: UserId, options: { limit?: number } = {}): Promise<SessionActivityEntry[]> {
    return this.activityLog.list(userId, options.limit);
  }

  /** Subscribes to session events in-process; returns an unsubscribe function. */
  onEvent(listener: SessionEventListener): () => void {
    return this.events.on(listener);
  }
}
