import type { SessionInfo, UserId } from '../interfaces/session-context.interface.js';

/** Re-check offsets within the settle time, as fractions of it. */
const SETTLE_STEPS = [0, 0.1, 0.25, 0.5, 1];

/** What a token that stopped being accepted means for its session. @internal */
export type SettledEnd = 'ended' | 'reconnect';

/** How {@link settleSessionEnd} looks the session up and waits. @internal */
export interface SettleOptions {
  /** `SessionService.list` (or the lifecycle's): the session counts as there while it is listed as current. */
  list(userId: UserId, currentSessionId: string): Promise<SessionInfo[]>;
  /** How long to keep looking (ms). */
  settleTime: number;
  /** Waits `ms` (cancellable by the caller). */
  wait(ms: number): Promise<void>;
  /** True once the caller no longer cares (client gone): the answer is then undefined. */
  closed(): boolean;
}

/**
 * Decides between "the session is over" and "only the token was superseded" once a connection's
 * access token stops being accepted. A password change rotates the user's token first, then ends
 * the other sessions and renews the changing one, so the session may look live for a moment: it is
 * looked up again over `settleTime` and is `'ended'` as soon as it is gone, `'reconnect'` if it is
 * still there at the end or the store cannot answer (the client reconnects and is checked again).
 * Shared by the SSE stream and the socket registry.
 * @internal
 */
export async function settleSessionEnd(session: { userId: UserId; sessionId: string }, options: SettleOptions): Promise<SettledEnd | undefined> {
  let waited = 0;
  for (let i = 0; i < SETTLE_STEPS.length; i++) {
    const due = Math.round(SETTLE_STEPS[i] * options.settleTime);
    if (i > 0 && due === waited) continue;
    if (due > waited) await options.wait(due - waited);
    waited = due;
    if (options.closed()) return undefined;
    let live: boolean;
    try {
      // Listed with itself as the current session: revoked or expired means gone, while a session
      // between its own password change and renew() still counts as there.
      live = (await options.list(session.userId, session.sessionId)).some((s) => s.id === session.sessionId);
    } catch {
      break; // the store cannot answer: let the client reconnect and be checked again
    }
    if (options.closed()) return undefined;
    if (!live) return 'ended';
  }
  return 'reconnect';
}
