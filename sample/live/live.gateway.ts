import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { CurrentSession, type SessionContext } from '../../lib/index.js';
import { isSameOrigin } from '../web/csrf.middleware.js';

/**
 * The socket.io namespace `/live`, on the app's own HTTP server and port. The handshake is
 * authenticated by `SessionIoAdapter` (app.factory.ts) before the connection is accepted: with
 * `auth: { token }` (bearer clients) or the access cookie (the account page); a bad token gets a
 * `connect_error` `Unauthorized`. Every message is checked by the global guard. A browser
 * handshake from another origin is refused.
 *
 * - `whoami` → `{ userId, sessionId }` (the socket's session);
 * - when the session ends the server emits `session-ended` `{ reason }` and disconnects; the
 *   device that changed its own password or email, and a socket whose access token expired, get
 *   `reconnect` `{ reason }` instead: connect again with the current token.
 */
@WebSocketGateway({
  namespace: '/live',
  maxHttpBufferSize: 16 * 1024,
  // A browser's handshake carries the access cookie (SameSite=Strict already keeps other sites'
  // pages from sending it): refuse a cross-origin one outright, as the CSRF check does for HTTP.
  allowRequest: (request: IncomingMessage, allow: (error: string | null | undefined, success: boolean) => void) =>
    allow(null, request.headers.origin === undefined || isSameOrigin(request.headers.origin, request.headers.host)),
})
export class LiveGateway {
  @SubscribeMessage('whoami')
  whoami(@CurrentSession() session: SessionContext): { userId: SessionContext['userId']; sessionId: string } {
    return { userId: session.userId, sessionId: session.sessionId };
  }
}
