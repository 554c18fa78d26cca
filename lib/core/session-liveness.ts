import type { SessionRefusalReason } from '../session-revocation.errors.js';
import type { SessionRecord } from '../storage/session-store.interface.js';
import { safeEqual } from '../utils/crypto.js';

/** What the liveness policy needs of a session. @internal */
export type SessionFacts = Pick<SessionRecord, 'userId' | 'createdAt' | 'expiresAt' | 'absoluteExpiresAt' | 'endedAt' | 'lastSeenAt'>;

/** The moment and the rules a session is judged by. @internal */
export interface LivenessRules {
  /** The current time (ms). */
  now: number;
  /** The revocation epoch: sessions created at or before it are over. */
  epoch: number;
  /** A session whose `lastSeenAt` is this old (ms) is over. */
  idleTimeoutMs: number;
}

/**
 * The one answer to "is this session live?", used by every check (per request, refresh, renewal,
 * re-authentication, device list, session limit). Undefined when it is live; otherwise why not.
 * Bounds (ASVS 7.3): ended, the sliding refresh expiry, the absolute lifetime, the idle timeout
 * (from `lastSeenAt`), the revocation epoch.
 *
 * @param session the session as stored or cached
 * @param rules the current time, the revocation epoch, the idle timeout
 * @param userId when given, the session must belong to this user
 * @internal
 */
export function sessionEndCause(session: SessionFacts, rules: LivenessRules, userId?: string): SessionRefusalReason | undefined {
  if (userId !== undefined && session.userId !== userId) return 'unknown';
  if (session.endedAt !== null) return 'revoked';
  if (session.expiresAt <= rules.now || session.absoluteExpiresAt <= rules.now) return 'expired';
  if (rules.now - session.lastSeenAt >= rules.idleTimeoutMs) return 'idle';
  if (session.createdAt <= rules.epoch) return 'revoked';
  return undefined;
}

/**
 * Whether a fingerprint matches the user's current one (null: the user has no session token or is
 * gone, which matches nothing). Constant time. @internal
 */
export function fingerprintMatches(fingerprint: string, current: string | null): boolean {
  return current !== null && safeEqual(fingerprint, current);
}
