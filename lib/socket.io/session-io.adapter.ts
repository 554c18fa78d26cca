import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import type { HandshakeSession } from '../core/session-connection-registry.js';
import { socketSessions, type SocketSessions } from '../core/socket-handshake.js';

/**
 * The socket.io adapter of `@nestjs/platform-socket.io` with revocable sessions: every namespace
 * of every server it creates authenticates a handshake before the connection is accepted, and
 * closes a connection when its session ends.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new SessionIoAdapter(app));
 * ```
 *
 * - The access token is `handshake.auth.token` (`io(url, { auth: { token } })`), else what the
 *   module's `tokenExtractor` reads from the handshake request: the `Authorization: Bearer`
 *   header, or the HttpOnly access cookie with `bearerOrCookie(name)`. A missing, invalid,
 *   expired or revoked token gets a `connect_error` whose message is `Unauthorized` (`Service
 *   Unavailable` when the store cannot answer), and nothing else.
 * - An accepted socket carries its `SessionContext`: `@CurrentSession()` works in
 *   `@SubscribeMessage()` handlers, and the module's guard checks every message against the
 *   session (a message after the session ended gets a `WsException('Unauthorized')`).
 * - When the session ends (logout, revocation here or on another instance over the bus, password
 *   or email change, block, "log out everywhere", session limit, expiry), the socket receives
 *   `session-ended` `{ reason }` and is disconnected. The socket of the device that changed its
 *   own password (its session goes on with new tokens), and a socket whose access token expires,
 *   receive `reconnect` `{ reason }` instead and are disconnected: reconnect with the current token.
 *
 * To combine it with another adapter (e.g. `@socket.io/redis-adapter`), extend this class and
 * override `createIOServer` (call `super.createIOServer` first).
 */
export class SessionIoAdapter extends IoAdapter {
  private sessions?: SocketSessions;
  private readonly handshakes = new WeakMap<Socket, HandshakeSession>();

  /** @param app the Nest application (its HTTP server is shared, as with `IoAdapter`) */
  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  /** Creates the socket.io server with the session handshake check installed on every namespace. */
  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, options);
    this.sessions ??= socketSessions(this.app, SessionIoAdapter.name);
    this.protect(server.of('/'));
    // Namespaces are created later (one per gateway, dynamic ones on demand): each is protected.
    server.on('new_namespace', (namespace: Namespace) => this.protect(namespace));
    return server;
  }

  private protect(namespace: Namespace): void {
    const sessions = this.sessions!;
    namespace.use((socket, next) => {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      const presented = typeof auth?.token === 'string' ? auth.token.replace(/^Bearer\s+/i, '') : auth?.token;
      void sessions.authenticate(socket.request, presented).then((result) => {
        if (typeof result === 'string') return next(new Error(result));
        this.handshakes.set(socket, result);
        next();
      });
    });
    // Registered once accepted (this listener runs before the gateway's handleConnection).
    namespace.on('connection', (socket: Socket) => {
      const handshake = this.handshakes.get(socket);
      if (!handshake) return void socket.disconnect(true);
      this.handshakes.delete(socket);
      const unregister = sessions.register(socket, handshake, (event, reason) => {
        socket.emit(event, { reason });
        socket.disconnect(true);
      });
      socket.once('disconnect', unregister);
    });
  }
}
