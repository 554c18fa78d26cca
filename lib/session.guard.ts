import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { SessionAuthenticator } from './core/session-authenticator.js';
import { toHttpException } from './session-error.filter.js';
import type { ResolvedSessionRevocationOptions } from './session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_CONTEXT_KEY, SESSION_REVOCATION_CONFIG, SKIP_SESSION_CHECK } from './session-revocation.constants.js';
import { SessionRefusedError, SessionStoreUnavailableError } from './session-revocation.errors.js';

/**
 * The global guard mounted by {@link SessionRevocationModule}. It authenticates the access
 * token by itself (a global guard runs before controller guards) and checks it against the
 * user's current session token and the server-side session. Every refusal is a 401 with a
 * generic body and `WWW-Authenticate: Bearer error="invalid_token"`; when the store cannot
 * answer the request gets 503, never a pass.
 *
 * Subclass it to support other transports: override {@link getRequest} / {@link getResponse}
 * (GraphQL is handled out of the box), or {@link handleNonHttp} for RPC and WebSocket.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  protected readonly logger = new Logger(LOGGER_CONTEXT);

  /** @internal */
  constructor(
    protected readonly reflector: Reflector,
    protected readonly authenticator: SessionAuthenticator,
    @Inject(SESSION_REVOCATION_CONFIG) protected readonly config: ResolvedSessionRevocationOptions,
    protected readonly adapterHost: HttpAdapterHost,
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
      const session = await this.authenticator.authenticate(token);
      request[SESSION_CONTEXT_KEY] = session;
      if (request.user === undefined) request.user = session;
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
    const targets = [context.getHandler(), context.getClass()];
    const skip = this.reflector.getAllAndOverride<boolean | undefined>(SKIP_SESSION_CHECK, targets);
    const key = this.config.publicRouteKey;
    return !!(skip ?? (key !== undefined && this.reflector.getAllAndOverride<unknown>(key, targets)));
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
   * RPC and WebSocket contexts carry no bearer header the guard knows how to read. By
   * default they are let through untouched (`nonHttpContexts: 'skip'`); `'deny'` refuses them.
   */
  protected handleNonHttp(_context: ExecutionContext): boolean {
    return this.config.nonHttpContexts === 'skip';
  }

  /** The HTTP error for a refusal or a store failure, with `WWW-Authenticate` on a 401. */
  private refuse(response: any, error: SessionRefusedError | SessionStoreUnavailableError, tokenSent: boolean): Error {
    const exception = toHttpException(error, this.logger);
    if (response && exception.getStatus() === 401) {
      try {
        this.adapterHost.httpAdapter?.setHeader(response, 'WWW-Authenticate', tokenSent ? 'Bearer error="invalid_token"' : 'Bearer');
      } catch {
        /* a response without headers (custom transport): the 401 still stands */
      }
    }
    return exception;
  }
}
