import { Catch, HttpException, Logger, ServiceUnavailableException, UnauthorizedException, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter, type HttpAdapterHost } from '@nestjs/core';
import { LOGGER_CONTEXT } from './session-revocation.constants.js';
import { describeError, SessionRefusedError, SessionStoreUnavailableError } from './session-revocation.errors.js';

/**
 * Answers the library's typed errors over HTTP: a `SessionRefusedError` becomes a 401 with Nest's
 * generic body (the reason is logged at debug level, never sent) and its `challenge`, if any, as
 * `WWW-Authenticate`; a `SessionStoreUnavailableError` a 503 (logged without parameters). The
 * module mounts it globally (`APP_FILTER`); it catches nothing else, so an app's own filters and
 * programmer errors (500) are untouched.
 */
@Catch(SessionRefusedError, SessionStoreUnavailableError)
export class SessionErrorFilter extends BaseExceptionFilter {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  catch(error: SessionRefusedError | SessionStoreUnavailableError, host: ArgumentsHost): unknown {
    const mapped = toHttpException(error, this.logger);
    if (host.getType() !== 'http') return mapped; // GraphQL and other transports take the returned error
    if (error instanceof SessionRefusedError && error.challenge) setChallenge(this.httpAdapterHost, host.switchToHttp().getResponse(), error.challenge);
    return super.catch(mapped, host);
  }
}

/** Sets `WWW-Authenticate` on a response, when it has headers. @internal */
export function setChallenge(adapterHost: HttpAdapterHost | undefined, response: unknown, challenge: string): void {
  if (!response) return;
  try {
    adapterHost?.httpAdapter?.setHeader(response, 'WWW-Authenticate', challenge);
  } catch {
    /* a response without headers (custom transport): the 401 still stands */
  }
}

/** The HTTP exception a library error maps to (logging the store failure). @internal */
export function toHttpException(error: SessionRefusedError | SessionStoreUnavailableError, logger: Logger): HttpException {
  if (error instanceof SessionStoreUnavailableError) {
    logger.error(`session store unavailable, request refused: ${describeError(error.cause)}`);
    return new ServiceUnavailableException();
  }
  logger.debug(`session refused: ${error.reason}`);
  return new UnauthorizedException();
}
