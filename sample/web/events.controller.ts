import { Controller, Req, Sse, type BeforeApplicationShutdown, type MessageEvent } from '@nestjs/common';
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
 * event: reconnect        data: {"sessionId":"…"}              this device got new tokens: reopen
 * ```
 *
 * 401 without a valid session, like every protected route. With a bus (Redis, LISTEN/NOTIFY)
 * a revocation made on any instance reaches the stream at once.
 */
@Controller('events')
export class EventsController implements BeforeApplicationShutdown {
  private readonly shuttingDown = new Subject<void>();
  private readonly open = new Set<Request>();

  constructor(private readonly sessions: SessionService) {}

  @Sse()
  events(@CurrentSession() session: SessionContext, @Req() request: Request): Observable<MessageEvent> {
    // The guard authenticated this very token, so it is there.
    const accessToken = sampleTokenExtractor(request)!;
    const stream = sessionEventStream(this.sessions, accessToken, session).pipe(takeUntil(this.shuttingDown));
    return new Observable<MessageEvent>((subscriber) => {
      this.open.add(request);
      const subscription = stream.subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        this.open.delete(request);
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
