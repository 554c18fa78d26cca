import { Logger, type INestApplicationContext } from '@nestjs/common';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { describeError, SessionRefusedError, SessionRevocationConfigError, SessionStoreUnavailableError } from '../session-revocation.errors.js';
import { SessionConnectionRegistry, type EndConnection, type HandshakeSession } from './session-connection-registry.js';

/** The only thing a refused handshake is told: `Unauthorized`, or `Service Unavailable` when the store cannot answer. */
export type HandshakeRefusal = 'Unauthorized' | 'Service Unavailable';

/** What a WebSocket adapter uses: authenticate handshakes, register accepted connections. @internal */
export interface SocketSessions {
  /**
   * Authenticates a handshake from `presented` (a token the client handed over, e.g. socket.io's
   * `auth.token`) or else the upgrade request's token by the module's `tokenExtractor` (the
   * `Authorization: Bearer` header by default, the access cookie with `bearerOrCookie`).
   */
  authenticate(request: unknown, presented?: unknown): Promise<HandshakeSession | HandshakeRefusal>;
  /** Registers an accepted connection; returns the removal, to call when it closes. */
  register(client: object, handshake: HandshakeSession, end: EndConnection): () => void;
}

/**
 * The library's side of a WebSocket adapter, from the application (the module must be imported).
 * @internal
 */
export function socketSessions(app: INestApplicationContext, adapter: string): SocketSessions {
  let registry: SessionConnectionRegistry;
  let config: ResolvedSessionRevocationOptions;
  try {
    registry = app.get(SessionConnectionRegistry, { strict: false });
    config = app.get(SESSION_REVOCATION_CONFIG, { strict: false });
  } catch {
    throw new SessionRevocationConfigError(adapter, 'needs the application (`new ' + adapter + '(app)`) of a module that imports SessionRevocationModule');
  }
  const logger = new Logger(LOGGER_CONTEXT);
  return {
    async authenticate(request, presented) {
      try {
        const token = presented !== undefined ? presented : config.tokenExtractor(request);
        if (typeof token !== 'string') throw new SessionRefusedError('malformed');
        return await registry.authenticate(token);
      } catch (error) {
        if (error instanceof SessionStoreUnavailableError) {
          logger.error(`session store unavailable, WebSocket handshake refused: ${describeError(error.cause)}`);
          return 'Service Unavailable';
        }
        if (error instanceof SessionRefusedError) logger.debug(`WebSocket handshake refused: ${error.reason}`);
        else logger.error(`WebSocket handshake refused: ${describeError(error)}`);
        return 'Unauthorized';
      }
    },
    register: (client, handshake, end) => registry.register(client, handshake, end),
  };
}
