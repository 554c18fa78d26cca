import { Inject, Injectable, Logger } from '@nestjs/common';
import type { UserId } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError } from '../session-revocation.errors.js';
import type { SessionRecord } from '../storage/session-store.interface.js';
import { SessionAuthenticator } from './session-authenticator.js';
import { SessionEvents } from './session-events.js';
import { SessionRevoker } from './session-revoker.js';

/** The end reason of sessions ended by the per-user limit. */
export const SESSION_LIMIT_REASON = 'session-limit';

/**
 * The per-user session limit (`maxSessionsPerUser`, ASVS 7.1.2). Runs after a login stored its
 * session: it lists the user's live sessions and ends the ones past the limit, newest kept
 * (`'evict-oldest'`) or oldest kept (`'refuse'`). Every concurrent login does the same after its
 * own insert, so the last of them sees every session and ends all but the limit: however many
 * logins race, at most the limit survive.
 * @internal
 */
@Injectable()
export class SessionLimiter {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    private readonly authenticator: SessionAuthenticator,
    private readonly revoker: SessionRevoker,
    private readonly events: SessionEvents,
  ) {}

  /** Ends the user's sessions past the limit; throws `SessionRefusedError('session-limit')` when `session` is one of them. */
  async enforce(userId: UserId, session: SessionRecord): Promise<void> {
    const max = this.config.maxSessionsPerUser;
    if (max === undefined) return;
    const live = await this.authenticator.liveSessions(userId, session.id);
    if (live.length <= max) return;
    const refuse = this.config.sessionLimitPolicy === 'refuse';
    // Newest first. 'evict-oldest': one order for every concurrent login (creation time, then id),
    // so they agree and no more sessions end than needed. 'refuse': within one millisecond the
    // caller's own session counts as the newest, so a login never displaces an older one.
    const own = (s: SessionRecord) => (refuse && s.id === session.id ? 1 : 0);
    live.sort((a, b) => b.createdAt - a.createdAt || own(b) - own(a) || (a.id < b.id ? 1 : -1));
    // 'evict-oldest' keeps the newest `max`, 'refuse' the oldest `max` (the new logins lose).
    const ended = refuse ? live.slice(0, live.length - max) : live.slice(max);
    for (const victim of ended) {
      if (victim.id === session.id || !(await this.revoker.endSession(victim.id, SESSION_LIMIT_REASON, userId))) continue;
      this.events.emit({
        type: 'session-limit',
        userId,
        sessionId: victim.id,
        reason: SESSION_LIMIT_REASON,
        ip: victim.ip ?? undefined,
        userAgent: victim.userAgent ?? undefined,
      });
    }
    if (ended.some((s) => s.id === session.id)) {
      await this.revoker.endSession(session.id, SESSION_LIMIT_REASON, userId);
      this.logger.warn(`login refused for user=${userId}: ${max} sessions live (maxSessionsPerUser)`);
      throw new SessionRefusedError('session-limit');
    }
  }
}
