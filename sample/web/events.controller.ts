import { Controller, Req, Sse, type MessageEvent } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
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
export class EventsController {
  constructor(private readonly sessions: SessionService) {}

  @Sse()
  events(@CurrentSession() session: SessionContext, @Req() request: Request): Observable<MessageEvent> {
    // The guard authenticated this very token, so it is there.
    const accessToken = sampleTokenExtractor(request)!;
    return sessionEventStream(this.sessions, accessToken, session);
  }
}
