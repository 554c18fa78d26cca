import type { SessionRefusalReason } from '../session-revocation.errors.js';
import type { SessionRecord } from '../storage/session-store.interface.js';
import { safeEqual } from '../utils/crypto.js';

/** What the liveness policy needs of a session. @internal */
export type SessionFacts = Pick<SessionRecord, 'userId' | 'createdAt' | 'expiresAt' | 'absoluteExpiresAt' | 'endedAt'>;

/**
 * The one answer to "is this session live?", used by every check (per request, refresh, renewal,
 * device list). Undefined when it is live; otherwise why not.
 *
 * @param session the session as stored or cached
 * @param now the current time (ms)
 * @param epoch the revocation epoch: sessions created at or before it are over
 * @param userId when given, the session must belong to this user
 * @internal
 */
export function sessionEndCause(session: SessionFacts, now: number, epoch: number, userId?: string): SessionRefusalReason | undefined {
  if (userId !== undefined && session.userId !== userId) return 'unknown';
  if (session.endedAt !== null) return 'revoked';
  if (session.expiresAt <= now || session.absoluteExpiresAt <= now) return 'expired';
  if (session.createdAt <= epoch) return 'revoked';
  return undefined;
}

/**
 * Whether a fingerprint matches the user's current one (null: the user has no session token or is
 * gone, which matches nothing). Constant time. @internal
 */
export function fingerprintMatches(fingerprint: string, current: string | null): boolean {
  return current !== null && safeEqual(fingerprint, current);
}
