import { Controller, HttpException, HttpStatus, Req, Sse, type BeforeApplicationShutdown, type MessageEvent } from '@nestjs/common';
import type { Request } from 'express';
import { Observable, Subject, takeUntil } from 'rxjs';
import { CurrentSession, SessionService, sessionEventStream, type SessionContext } from '../../lib/index.js';
import { sampleTokenExtractor } from '../auth/auth-cookies.js';

/**
 * `GET /events`: server-sent events for the signed-in session (cookie or bearer). The page
 * learns at once that this device was signed out elsewhere:
 *
 * ```
 * event: ready            retry: 2000   data: {"sessionId":"…"}
 * : keep-alive            (every 25 s)
 * event: session-ended    data: {"sessionId":"…","at":"…"}     then the stream ends
 * event: reconnect        data: {"sessionId":"…"}              this device got new tokens, or the
 *                                                               access token expired: reopen
 * ```
 *
 * 401 without a valid session, like every protected route. With a bus (Redis, LISTEN/NOTIFY)
 * a revocation made on any instance reaches the stream at once.
 *
 * Every stream holds a watch, a poll timer and a heartbeat, so they are bounded: a stream
 * ends (`reconnect`) when the access token it was opened with expires, and at most
 * {@link EventsController.limits} streams are open per session, per account (so one account
 * cannot fill the process with many sessions) and per process. Past a limit
 * the new stream is refused with `429 {statusCode, message, error}`; the open ones are left
 * alone (closing the oldest instead would let two tabs evict each other on every reconnect).
 * The page retries a refused stream with a growing delay, so an extra tab gets one as soon
 * as another tab closes.
 */
@Controller('events')
export class EventsController implements BeforeApplicationShutdown {
  private readonly shuttingDown = new Subject<void>();
  private readonly open = new Set<Request>();
  /** Open streams by session id, and by user id. */
  private readonly perSession = new Map<string, number>();
  private readonly perUser = new Map<string, number>();

  /** Most streams open at once for one session, for one account (all its sessions), and in this process. */
  readonly limits = { perSession: 4, perUser: 16, total: 10_000 };

  constructor(private readonly sessions: SessionService) {}

  /** How many streams are open in this process now. */
  get openStreams(): number {
    return this.open.size;
  }

  @Sse()
  events(@CurrentSession() session: SessionContext, @Req() request: Request): Observable<MessageEvent> {
    // The guard authenticated this very token, so it is there.
    const accessToken = sampleTokenExtractor(request)!;
    const stream = sessionEventStream(this.sessions, accessToken, session).pipe(takeUntil(this.shuttingDown));
    return new Observable<MessageEvent>((subscriber) => {
      // Counted when the stream starts (synchronously, so parallel requests cannot both take
      // the last slot) and released when it ends, however it ends.
      const sessionId = session.sessionId;
      const userId = String(session.userId);
      if ((this.perSession.get(sessionId) ?? 0) >= this.limits.perSession) {
        return subscriber.error(
          tooMany(`Too many open event streams for this session (at most ${this.limits.perSession}): close another tab or window of this account first`),
        );
      }
      if ((this.perUser.get(userId) ?? 0) >= this.limits.perUser) {
        return subscriber.error(
          tooMany(`Too many open event streams for this account (at most ${this.limits.perUser}): close a tab or window of this account on any device first`),
        );
      }
      if (this.open.size >= this.limits.total) {
        return subscriber.error(tooMany(`Too many open event streams on this server (at most ${this.limits.total}): try again later`));
      }
      this.open.add(request);
      count(this.perSession, sessionId, 1);
      count(this.perUser, userId, 1);
      const subscription = stream.subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        if (!this.open.delete(request)) return;
        count(this.perSession, sessionId, -1);
        count(this.perUser, userId, -1);
      };
    });
  }

  /**
   * Ends the open streams when the app stops (SIGTERM, Ctrl+C with the page open): the HTTP
   * server would otherwise wait for them, and then for their keep-alive connections. Browsers
   * reconnect on their own (`retry`).
   */
  beforeApplicationShutdown(): void {
    const open = [...this.open];
    this.shuttingDown.next();
    this.shuttingDown.complete();
    for (const request of open) {
      const close = () => request.socket.destroy();
      if (!request.res || request.res.writableFinished) close();
      else request.res.once('finish', close).once('close', close);
    }
  }
}

/** Adds `delta` to the count of `key`, dropping counts that reach 0. */
function count(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

/** The 429 answer of a stream past a limit: `{statusCode: 429, message, error: 'Too Many Requests'}`. */
function tooMany(message: string): HttpException {
  return new HttpException({ statusCode: HttpStatus.TOO_MANY_REQUESTS, message, error: 'Too Many Requests' }, HttpStatus.TOO_MANY_REQUESTS);
}
