import { Inject, Injectable } from '@nestjs/common';
import type { SessionContext, UserId } from '../interfaces/session-context.interface.js';
import { SessionRefusedError } from '../session-revocation.errors.js';
import { SessionStore } from '../storage/session-store.interface.js';
import { AccessTokens, isSessionId } from './access-tokens.js';
import { sessionTokenIfUnchanged } from './checked-credentials.js';
import { SessionAuthenticator } from './session-authenticator.js';
import { SessionEvents } from './session-events.js';
import { assertFreshSession, freshnessMaxAgeMs } from './session-freshness.js';
import { fingerprintMatches } from './session-liveness.js';
import { SessionRevoker } from './session-revoker.js';

/**
 * Fresh-session step-up: records a re-authentication on the session (`authTime`), and checks
 * that a session's last credential proof is recent enough for a sensitive operation.
 * @internal
 */
@Injectable()
export class SessionStepUp {
  constructor(
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly tokens: AccessTokens,
    private readonly authenticator: SessionAuthenticator,
    private readonly revoker: SessionRevoker,
    private readonly events: SessionEvents,
  ) {}

  async reauthenticate(sessionId: string, user: object | UserId): Promise<{ authTime: Date }> {
    if (!isSessionId(sessionId)) throw new SessionRefusedError('malformed');
    const userId = this.store.userIdOf(user);
    const session = await this.store.findSession(sessionId);
    if (!session) throw new SessionRefusedError('unknown');
    const cause = await this.authenticator.endCause(session, userId);
    if (cause) throw new SessionRefusedError(cause);
    if (await this.store.isBlocked(userId)) throw new SessionRefusedError('blocked');
    // What the app just checked must still be stored, and the session must be issued under it.
    const sessionToken = await sessionTokenIfUnchanged(this.store, userId, this.store.credentialsOf(user));
    if (sessionToken === null) throw new SessionRefusedError('race');
    if (!fingerprintMatches(session.sessionTokenFingerprint, this.tokens.fingerprint(userId, sessionToken))) throw new SessionRefusedError('rotated');
    const now = Date.now();
    await this.store.updateSession(sessionId, { authTime: now, lastSeenAt: now });
    await this.revoker.announceSession(sessionId); // every instance re-reads authTime
    this.events.emit({ type: 'reauthenticate', userId, sessionId });
    return { authTime: new Date(now) };
  }

  async assertFresh(session: SessionContext, maxAge: string | number): Promise<void> {
    const maxAgeMs = freshnessMaxAgeMs(maxAge);
    if (Date.now() - session.authTime * 1000 > maxAgeMs) {
      // The context may predate a re-authentication made a moment ago (another instance's cache).
      const row = await this.store.findSession(session.sessionId);
      if (row && row.userId === String(session.userId)) session.authTime = Math.max(session.authTime, Math.floor(row.authTime / 1000));
    }
    assertFreshSession(session, maxAge);
  }
}
