import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage } from 'node:http';
import type { VerifyClientCallbackAsync, WebSocket, WebSocketServer } from 'ws';
import type { HandshakeSession } from '../core/session-connection-registry.js';
import { socketSessions, type SocketSessions } from '../core/socket-handshake.js';

/** Close code of a connection whose session ended or whose token stopped working (4000-4999: for applications). */
export const SESSION_CLOSE_CODE = 4401;

/**
 * The `ws` adapter of `@nestjs/platform-ws` with revocable sessions: every server it creates
 * authenticates the upgrade request before the connection is accepted, and closes a connection
 * when its session ends.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new SessionWsAdapter(app));
 * ```
 *
 * - The access token is what the module's `tokenExtractor` reads from the upgrade request: the
 *   `Authorization: Bearer` header, or the HttpOnly access cookie with `bearerOrCookie(name)`
 *   (browsers cannot set headers on a WebSocket). A missing, invalid, expired or revoked token is
 *   answered `401 Unauthorized` (`503` when the store cannot answer) and never upgraded.
 * - An accepted client carries its `SessionContext` (`@CurrentSession()` in `@SubscribeMessage()`
 *   handlers); the module's guard checks every message against the session.
 * - When the session ends the client receives `{"event":"session-ended","data":{"reason":…}}`
 *   and the connection is closed with code {@link SESSION_CLOSE_CODE} and reason `session-ended`;
 *   the device whose own password change renewed its session, and a client whose access token
 *   expires, receive `reconnect` (close reason `reconnect`): reconnect with the current token.
 *
 * The app's own `verifyClient` option, if any, runs first.
 */
export class SessionWsAdapter extends WsAdapter {
  private sessions?: SocketSessions;
  private readonly handshakes = new WeakMap<IncomingMessage, HandshakeSession>();

  /** @param app the Nest application (its HTTP server is shared, as with `WsAdapter`) */
  constructor(
    private readonly app: INestApplicationContext,
    options?: ConstructorParameters<typeof WsAdapter>[1],
  ) {
    super(app, options);
  }

  /** Creates the ws server with the session check on every upgrade (`verifyClient`). */
  override create(port: number, options: Parameters<WsAdapter['create']>[1] = {}): WebSocketServer {
    this.sessions ??= socketSessions(this.app, SessionWsAdapter.name);
    const sessions = this.sessions;
    const own = options.verifyClient as VerifyClientCallbackAsync | undefined;
    const verifyClient: VerifyClientCallbackAsync = (info, done) => {
      const authenticate = () =>
        void sessions.authenticate(info.req).then((result) => {
          if (typeof result === 'string') return done(false, result === 'Unauthorized' ? 401 : 503, result);
          this.handshakes.set(info.req, result);
          done(true);
        });
      if (!own) return authenticate();
      own(info, (ok, ...refusal) => (ok ? authenticate() : done(false, ...refusal)));
    };
    const server: WebSocketServer = super.create(port, { ...options, verifyClient });
    server.on('connection', (client: WebSocket, request: IncomingMessage) => {
      const handshake = this.handshakes.get(request);
      if (!handshake) return void client.close(SESSION_CLOSE_CODE, 'Unauthorized');
      this.handshakes.delete(request);
      const unregister = sessions.register(client, handshake, (event, reason) => {
        client.send(JSON.stringify({ event, data: { reason } }));
        client.close(SESSION_CLOSE_CODE, event);
      });
      client.once('close', unregister);
    });
    return server;
  }
}
