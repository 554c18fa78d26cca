import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SessionEvent, SessionEventType, UserId } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { describeError } from '../session-revocation.errors.js';
import { SessionStore, type ActivityRecord } from '../storage/session-store.interface.js';

/** One entry of a user's security activity, as `SessionService.activity()` returns it. */
export interface SessionActivityEntry {
  /** What happened (`login`, `login-failed`, `logout`, `revoke`, `invalidate`, `session-limit`, ...). */
  type: SessionEventType;
  /** When. */
  at: Date;
  /** The session concerned (for `session-limit` and `revoke`: the one that was ended). */
  sessionId: string | null;
  /** Why, e.g. `password-change`, `email-change`, `logout-others`. */
  reason: string | null;
  /** Client IP, when known. */
  ip: string | null;
  /** Client user agent, when known. */
  userAgent: string | null;
}

/** Events that are not activity a user reviews: token refreshes (one every access-token lifetime). */
const NOT_RECORDED: ReadonlySet<SessionEventType> = new Set(['refresh', 'revoke-everyone']);

/** Longest activity list one call returns. */
export const MAX_ACTIVITY_ENTRIES = 500;

/**
 * The security activity log (`audit` option): persists the session events of each user (never
 * tokens or hashes), lists them newest first. Writes are started when the event is emitted; a
 * list waits for this instance's writes in flight, so an action is listed as soon as it returned.
 * A failed write is logged and does not fail the action.
 * @internal
 */
@Injectable()
export class SessionActivity {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly pending = new Set<Promise<void>>();

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
  ) {}

  /** Whether the log is on. */
  get enabled(): boolean {
    return this.config.audit !== null;
  }

  record(event: SessionEvent): void {
    if (!this.enabled || event.userId === undefined || NOT_RECORDED.has(event.type)) return;
    const entry: ActivityRecord = {
      userId: String(event.userId),
      type: event.type,
      at: event.at.getTime(),
      sessionId: event.sessionId ?? null,
      reason: clip(event.reason, 64),
      ip: clip(event.ip, 64),
      userAgent: clip(event.userAgent, 512),
    };
    const write: Promise<void> = this.store
      .addActivity(entry)
      .catch((error) => this.logger.error(`activity log write failed (${event.type}): ${describeError(error)}`))
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  async list(userId: UserId, limit = 50): Promise<SessionActivityEntry[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('activity limit must be a positive integer');
    await Promise.all([...this.pending]);
    const rows = await this.store.listActivity(userId, Math.min(limit, MAX_ACTIVITY_ENTRIES));
    return rows.map(({ userId: _userId, ...row }) => ({ ...row, type: row.type as SessionEventType, at: new Date(row.at) }));
  }
}

function clip(value: string | undefined, max: number): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;
}
