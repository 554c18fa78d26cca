import { Inject, Injectable } from '@nestjs/common';
import { RevocationNotifier } from '../bus/revocation-notifier.js';
import type { UserId } from '../interfaces/session-context.interface.js';
import { SessionStore } from '../storage/session-store.interface.js';
import { isSessionId } from './access-tokens.js';
import { SessionEvents } from './session-events.js';

/** Options of `SessionService.invalidateSessions`. */
export interface InvalidateSessionsOptions {
  /** A session to keep (the caller's, for "log out other devices"). */
  except?: string;
  /** Recorded on the ended sessions and in the event. Default `'invalidate'`. */
  reason?: string;
}

/**
 * Ends sessions: one, all of a user's, everyone's; blocks users. Every end is written to the
 * store first, then applied to this instance's cache and announced on the bus before the call
 * returns, then emitted as an event.
 * @internal
 */
@Injectable()
export class SessionRevoker {
  constructor(
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly notifier: RevocationNotifier,
    private readonly events: SessionEvents,
  ) {}

  /**
   * Ends one open session (of `userId` when given) and tells every instance. The one primitive
   * behind logout, the device list, reuse detection and rotation cleanup. True if this call ended it.
   */
  async endSession(sessionId: string, reason: string, userId?: UserId): Promise<boolean> {
    if (!(await this.store.endSession(sessionId, { reason, at: Date.now(), userId }))) return false;
    await this.announceSession(sessionId);
    return true;
  }

  /** Tells every instance that a session's entries are stale (it was renewed). */
  announceSession(sessionId: string): Promise<void> {
    return this.notifier.revoke({ t: 'session', id: sessionId });
  }

  /** Tells every instance that a user's entries are stale (their session token changed). */
  announceUser(userId: UserId): Promise<void> {
    return this.notifier.revoke({ t: 'user', id: String(userId) });
  }

  /**
   * Ends every session of a user. Without `except`, the user's session token is regenerated too,
   * so every outstanding access token is refused on its next request. Two statements at most.
   */
  async invalidateSessions(userId: UserId, options: InvalidateSessionsOptions = {}): Promise<number> {
    const reason = options.reason ?? 'invalidate';
    if (!options.except) await this.store.rotateSessionToken(userId);
    const ended = await this.store.endUserSessions(userId, { reason, at: Date.now(), except: options.except });
    await this.announceUser(userId);
    this.events.emit({ type: 'invalidate', userId, sessionId: options.except, reason });
    return ended;
  }

  /** Ends one session of a user (device list). False when it is not an open session of theirs. */
  async revokeSession(userId: UserId, sessionId: string, reason = 'revoke'): Promise<boolean> {
    if (!isSessionId(sessionId) || !(await this.endSession(sessionId, reason, userId))) return false;
    this.events.emit({ type: 'revoke', userId, sessionId, reason });
    return true;
  }

  /** Blocks a user: ends all their sessions; login and refresh are refused until unblocked. */
  async blockUser(userId: UserId, reason = 'blocked'): Promise<void> {
    await this.store.setBlocked(userId, Date.now());
    await this.store.rotateSessionToken(userId);
    await this.store.endUserSessions(userId, { reason, at: Date.now() });
    await this.announceUser(userId);
    this.events.emit({ type: 'block', userId, reason });
  }

  /** Lifts a block; the user can log in again (old sessions stay ended). */
  async unblockUser(userId: UserId): Promise<void> {
    await this.store.setBlocked(userId, null);
    this.events.emit({ type: 'unblock', userId });
  }

  /** Ends every session of every user with one write: sessions created until now are over. */
  async invalidateAllSessions(reason = 'revoke-everyone'): Promise<void> {
    await this.store.setEpoch(Date.now());
    await this.notifier.revoke({ t: 'all' });
    this.events.emit({ type: 'revoke-everyone', reason });
  }
}
