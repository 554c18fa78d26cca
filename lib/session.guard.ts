import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { RequestAuthenticator } from './core/request-authenticator.js';
import { SessionConnectionRegistry } from './core/session-connection-registry.js';
import { sessionHolder } from './decorators/current-session.decorator.js';
import { extractBearerToken } from './http/token-extractors.js';
import { setChallenge, toHttpException } from './session-error.filter.js';
import type { ResolvedSessionRevocationOptions } from './session-revocation-options.js';
import { BEARER_CHALLENGE, INVALID_TOKEN_CHALLENGE, LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG, SKIP_SESSION_CHECK } from './session-revocation.constants.js';
import { SessionRefusedError, SessionStoreUnavailableError } from './session-revocation.errors.js';

/**
 * The global guard mounted by {@link SessionRevocationModule}. It authenticates the access
 * token by itself (a global guard runs before controller guards) and checks it against the
 * user's current session token and the server-side session. Every refusal is a 401 with a
 * generic body and `WWW-Authenticate: Bearer error="invalid_token"`; when the store cannot
 * answer the request gets 503, never a pass. With `legacyTokens`, the app's own pre-adoption
 * tokens pass too until the transition ends, as a user without a session (`request.user`).
 *
 * WebSocket and RPC contexts are authenticated too, or refused (see {@link handleNonHttp}).
 * Subclass it to support other transports: override {@link getRequest} / {@link getResponse}
 * (GraphQL is handled out of the box), {@link getRpcToken}, or {@link handleNonHttp}.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  protected readonly logger = new Logger(LOGGER_CONTEXT);
  /** Whether a route is public, per controller and handler. */
  private readonly publicRoutes = new WeakMap<object, WeakMap<object, boolean>>();

  /** @internal */
  constructor(
    protected readonly reflector: Reflector,
    protected readonly authenticator: RequestAuthenticator,
    @Inject(SESSION_REVOCATION_CONFIG) protected readonly config: ResolvedSessionRevocationOptions,
    protected readonly adapterHost: HttpAdapterHost,
    protected readonly connections: SessionConnectionRegistry,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic(context)) return true;
    const type = context.getType<string>();
    if (type !== 'http' && type !== 'graphql') return this.handleNonHttp(context);
    const request = this.getRequest(context);
    const response = this.getResponse(context);
    if (!request) throw this.refuse(response, new SessionRefusedError('malformed'), true);
    const token = this.extractToken(request);
    if (token === undefined) throw this.refuse(response, new SessionRefusedError('malformed'), false);
    if (token === null) throw this.refuse(response, new SessionRefusedError('malformed'), true);
    try {
      const identity = await this.authenticator.authenticate(request, token);
      if (request.user === undefined) request.user = identity.session ?? identity.legacy;
      return true;
    } catch (error) {
      if (error instanceof SessionRefusedError || error instanceof SessionStoreUnavailableError) throw this.refuse(response, error, true);
      throw error;
    }
  }

  /**
   * Whether the route opted out of the check: `@SkipSessionCheck()`, else the app's own
   * `publicRouteKey` metadata (handler first, then controller).
   */
  protected isPublic(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    const controller = context.getClass();
    // Route metadata is fixed once the app is built: read once per handler and controller.
    const memo = typeof handler === 'function' && typeof controller === 'function';
    let answers = memo ? this.publicRoutes.get(controller) : undefined;
    if (memo && !answers) this.publicRoutes.set(controller, (answers = new WeakMap()));
    let answer = answers?.get(handler);
    if (answer === undefined) {
      const targets = [handler, controller];
      const skip = this.reflector.getAllAndOverride<boolean | undefined>(SKIP_SESSION_CHECK, targets);
      const key = this.config.publicRouteKey;
      answer = !!(skip ?? (key !== undefined && this.reflector.getAllAndOverride<unknown>(key, targets)));
      answers?.set(handler, answer);
    }
    return answer;
  }

  /** The request object of an HTTP or GraphQL context. */
  protected getRequest(context: ExecutionContext): any {
    return context.getType<string>() === 'graphql' ? context.getArgByIndex(2)?.req : context.switchToHttp().getRequest();
  }

  /** The response object of an HTTP or GraphQL context, when there is one. */
  protected getResponse(context: ExecutionContext): any {
    return context.getType<string>() === 'graphql' ? context.getArgByIndex(2)?.res : context.switchToHttp().getResponse();
  }

  /** The access token of a request: `undefined` when none, `null` when unusable. */
  protected extractToken(request: any): string | undefined | null {
    return this.config.tokenExtractor(request);
  }

  /**
   * Contexts other than HTTP and GraphQL, by the `nonHttpContexts` policy. `'authenticate'` (the
   * default): a WebSocket message is checked against the session its connection was opened with
   * (the `nestjs-session-revocation/socket.io` and `/ws` adapters authenticate the handshake), an
   * RPC message by the token {@link getRpcToken} finds; anything else is refused, with the
   * transport's exception (`WsException` / `RpcException`, message `Unauthorized`, or `Service
   * Unavailable` when the store cannot answer). `'deny'` refuses every such context; `'skip'` lets
   * them through unchecked: an explicit opt-out.
   */
  protected async handleNonHttp(context: ExecutionContext): Promise<boolean> {
    const policy = this.config.nonHttpContexts;
    const type = context.getType<string>();
    if (policy !== 'authenticate' || (type !== 'ws' && type !== 'rpc')) return policy === 'skip';
    // Loaded only here: an app with a WebSocket or RPC context has the package installed.
    const Exception = type === 'ws' ? (await import('@nestjs/websockets')).WsException : (await import('@nestjs/microservices')).RpcException;
    try {
      if (type === 'ws') {
        await this.connections.verify(context.switchToWs().getClient());
      } else {
        const token = this.getRpcToken(context);
        if (token === undefined || token === null) throw new SessionRefusedError('malformed');
        // The message's context holds the outcome for @CurrentSession(), as a request does.
        await this.authenticator.authenticate(sessionHolder(context) ?? {}, token);
      }
      return true;
    } catch (error) {
      if (error instanceof SessionRefusedError || error instanceof SessionStoreUnavailableError) {
        throw new Exception(toHttpException(error, this.logger).message);
      }
      throw error;
    }
  }

  /**
   * The access token of an RPC message: `data.accessToken`, or `data.authorization` as
   * `Bearer <token>`. Override it to read a transport's own headers (NATS headers, gRPC metadata,
   * Kafka headers: `context.switchToRpc().getContext()`). `undefined` when none, `null` when unusable.
   */
  protected getRpcToken(context: ExecutionContext): string | undefined | null {
    const data = context.switchToRpc().getData();
    if (typeof data !== 'object' || data === null) return undefined;
    if (data.accessToken !== undefined) return typeof data.accessToken === 'string' && data.accessToken.length > 0 ? data.accessToken : null;
    if (data.authorization !== undefined) return extractBearerToken({ headers: { authorization: data.authorization } });
    return undefined;
  }

  /** The HTTP error for a refusal or a store failure, with `WWW-Authenticate` on a 401. */
  private refuse(response: any, error: SessionRefusedError | SessionStoreUnavailableError, tokenSent: boolean): Error {
    const exception = toHttpException(error, this.logger);
    if (exception.getStatus() === 401) setChallenge(this.adapterHost, response, tokenSent ? INVALID_TOKEN_CHALLENGE : BEARER_CHALLENGE);
    return exception;
  }
}
