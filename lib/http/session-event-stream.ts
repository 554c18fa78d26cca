import type { MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { SessionContext } from '../interfaces/session-context.interface.js';
import { settleSessionEnd } from '../core/session-settle.js';
import type { SessionEnded, SessionService } from '../session.service.js';

/** Event types written by {@link sessionEventStream}. */
export const SESSION_STREAM_EVENTS = {
  /** First event: the stream is open and watching. */
  ready: 'ready',
  /** The session is over (signed out here or elsewhere, revoked, password changed elsewhere, blocked): sign in again. */
  ended: 'session-ended',
  /**
   * The credentials the stream was opened with stopped working but the session goes on (this
   * device changed its password or email and got new tokens, or the access token reached its
   * expiry, see `endAt`): open the stream again with the current credentials.
   */
  reconnect: 'reconnect',
} as const;

/** Options of {@link sessionEventStream}. */
export interface SessionEventStreamOptions {
  /**
   * Interval of keep-alive comments (`: keep-alive`), in milliseconds, so that proxies and
   * load balancers do not close an idle stream. Default 25 000; 0 sends none.
   */
  heartbeatInterval?: number;
  /** Re-check interval of {@link SessionService.watch} (ends made on other instances without a bus). Default 5 000 ms. */
  pollInterval?: number;
  /** `retry:` sent with the first event: how long an `EventSource` waits before it reconnects. Default 2 000 ms. */
  retry?: number;
  /**
   * When the token stops working, the session may still look live for a moment: a password
   * change rotates the user's token first, then ends the other sessions and renews the
   * changing one. The stream re-checks for this long (ms) and says `session-ended` as soon as
   * the session is gone, `reconnect` if it is still there at the end. Default 1 000.
   */
  settleTime?: number;
  /**
   * When the stream ends with `reconnect`, however live the session still is: the client must
   * then reopen it with its current (refreshed) credentials, so a stream never outlives the
   * access token it was opened with. Default: the session's `expiresAt` (the access token's
   * `exp`) when the `session` argument carries it, as the `SessionContext` of
   * `@CurrentSession()` does. `null` keeps the stream open for as long as the session lives
   * (up to the refresh-token lifetime): not recommended, as one stolen access token then keeps
   * a stream, and its resources, for days. A time already past ends the stream right after `ready`.
   */
  endAt?: Date | null;
}

/** Longest delay `setTimeout` takes as is (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * A server-sent-events stream for a "you were signed out" notice, built on
 * {@link SessionService.watch}. Return it from an `@Sse()` handler behind the session guard:
 *
 * ```ts
 * @Sse('events')
 * events(@CurrentSession() session: SessionContext, @Req() req: Request): Observable<MessageEvent> {
 *   return sessionEventStream(this.sessions, extractBearerToken(req)!, session);
 * }
 * ```
 *
 * The stream writes, in order:
 * - `event: ready` with `retry:` and `data: {"sessionId": ...}` as soon as it is watching;
 * - a `: keep-alive` comment every `heartbeatInterval`;
 * - once the token stops being accepted, either `event: session-ended` with
 *   `data: {"sessionId", "at"}` when the session itself is over, or `event: reconnect` when
 *   only the token was superseded (the session was renewed after a password or email change
 *   on this device, see `settleTime`; also sent when the store cannot tell); then the stream
 *   completes.
 *
 * A client closes its `EventSource` on `session-ended` and shows the sign-in form; on
 * `reconnect` it reopens the stream with its current credentials. Revocations made on other
 * instances arrive over the bus when one is configured (otherwise within `pollInterval`).
 * The stream also ends, with `event: reconnect`, when the access token it was opened with
 * expires (`endAt`, by default the session's `expiresAt`): the client reopens it with its
 * refreshed credentials, and the new stream is checked like any request. Unsubscribing (the
 * client disconnected) stops the watch, the heartbeat and the expiry timer. Nothing secret is
 * written: no token, only the session id.
 *
 * Each open stream holds a watch, a poll timer and a heartbeat: cap how many one session, and
 * the process, may hold (the sample's `GET /events` answers 429 beyond 4 per session and
 * 10 000 in all). End the streams when the app shuts down (e.g.
 * `.pipe(takeUntil(shutdown$))` completed in `beforeApplicationShutdown`), or the HTTP
 * server waits for the clients to leave.
 *
 * @param sessions the app's {@link SessionService}
 * @param accessToken the access token the request was authenticated with
 * @param session the request's session (from `@CurrentSession()`); its `expiresAt`, when
 *   present, is when the stream ends by default (see `endAt`)
 */
export function sessionEventStream(
  sessions: Pick<SessionService, 'watch' | 'list'>,
  accessToken: string,
  session: Pick<SessionContext, 'userId' | 'sessionId'> & Partial<Pick<SessionContext, 'expiresAt'>>,
  options: SessionEventStreamOptions = {},
): Observable<MessageEvent> {
  const heartbeatInterval = options.heartbeatInterval ?? 25_000;
  const endAt =
    options.endAt !== undefined ? options.endAt : typeof session.expiresAt === 'number' ? new Date(session.expiresAt * 1000) : null;
  return new Observable<MessageEvent>((subscriber) => {
    subscriber.next({ type: SESSION_STREAM_EVENTS.ready, retry: options.retry ?? 2000, data: { sessionId: session.sessionId } });
    const heartbeat = heartbeatInterval > 0 ? setInterval(() => subscriber.next({ comment: 'keep-alive' }), heartbeatInterval) : undefined;
    heartbeat?.unref?.();

    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = async (ended: SessionEnded) => {
      const outcome = await settleSessionEnd(session, {
        list: (userId, current) => sessions.list(userId, current),
        settleTime: options.settleTime ?? 1000,
        wait: (ms) => new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
        closed: () => subscriber.closed,
      });
      if (!outcome) return;
      subscriber.next(
        outcome === 'ended'
          ? { type: SESSION_STREAM_EVENTS.ended, data: { sessionId: session.sessionId, at: ended.at.toISOString() } }
          : { type: SESSION_STREAM_EVENTS.reconnect, data: { sessionId: session.sessionId } },
      );
      subscriber.complete();
    };
    let expiry: ReturnType<typeof setTimeout> | undefined;
    let ending = false;
    const expire = () => {
      expiry = undefined;
      if (subscriber.closed || ending) return;
      const left = endAt!.getTime() - Date.now();
      if (left > 0) {
        expiry = setTimeout(expire, Math.min(left, MAX_TIMER_DELAY));
        expiry.unref?.();
        return;
      }
      subscriber.next({ type: SESSION_STREAM_EVENTS.reconnect, data: { sessionId: session.sessionId } });
      subscriber.complete();
    };

    const watching = sessions.watch(accessToken, options.pollInterval !== undefined ? { pollInterval: options.pollInterval } : {}).subscribe({
      next: (ended) => {
        ending = true; // the settle check decides between session-ended and reconnect
        void settle(ended);
      },
      error: (error: unknown) => subscriber.error(error),
    });

    if (endAt && !subscriber.closed) expire();

    return () => {
      if (heartbeat) clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      if (expiry) clearTimeout(expiry);
      watching.unsubscribe();
    };
  });
}
