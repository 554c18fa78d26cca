import { Catch, HttpException, HttpStatus, Logger, ServiceUnavailableException, UnauthorizedException, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter, type HttpAdapterHost } from '@nestjs/core';
import { freshnessChallenge } from './core/session-freshness.js';
import { LOGGER_CONTEXT } from './session-revocation.constants.js';
import {
  describeError,
  SessionNotFreshError,
  SessionRefusedError,
  SessionStoreUnavailableError,
  TooManyAttemptsError,
} from './session-revocation.errors.js';

/** The library's errors the filter answers. @internal */
export type SessionHttpError = SessionRefusedError | SessionStoreUnavailableError | SessionNotFreshError | TooManyAttemptsError;

/**
 * Answers the library's typed errors over HTTP: a `SessionRefusedError` becomes a 401 with Nest's
 * generic body (the reason is logged at debug level, never sent) and its `challenge`, if any, as
 * `WWW-Authenticate`; a `SessionStoreUnavailableError` a 503 (logged without parameters); a
 * `SessionNotFreshError` a 401 with the RFC 9470 challenge (`WWW-Authenticate: Bearer
 * error="insufficient_user_authentication", max_age=…`); a `TooManyAttemptsError` a 429 with
 * `Retry-After`. The module mounts it globally (`APP_FILTER`); it catches nothing else, so an
 * app's own filters and programmer errors (500) are untouched.
 */
@Catch(SessionRefusedError, SessionStoreUnavailableError, SessionNotFreshError, TooManyAttemptsError)
export class SessionErrorFilter extends BaseExceptionFilter {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  /** Answers one library error (HTTP), or returns the mapped exception (GraphQL, other transports). */
  catch(error: SessionHttpError, host: ArgumentsHost): unknown {
    const mapped = toHttpException(error, this.logger);
    if (host.getType() !== 'http') return mapped; // GraphQL and other transports take the returned error
    const response = host.switchToHttp().getResponse();
    for (const [name, value] of Object.entries(responseHeaders(error))) setHeader(this.httpAdapterHost, response, name, value);
    return super.catch(mapped, host);
  }
}

/** Sets `WWW-Authenticate` on a response, when it has headers. @internal */
export function setChallenge(adapterHost: HttpAdapterHost | undefined, response: unknown, challenge: string): void {
  setHeader(adapterHost, response, 'WWW-Authenticate', challenge);
}

function setHeader(adapterHost: HttpAdapterHost | undefined, response: unknown, name: string, value: string): void {
  if (!response) return;
  try {
    adapterHost?.httpAdapter?.setHeader(response, name, value);
  } catch {
    /* a response without headers (custom transport): the status still stands */
  }
}

/** The HTTP exception a library error maps to (logging the store failure). @internal */
export function toHttpException(error: SessionHttpError, logger: Logger): HttpException {
  if (error instanceof SessionStoreUnavailableError) {
    logger.error(`session store unavailable, request refused: ${describeError(error.cause)}`);
    return new ServiceUnavailableException();
  }
  if (error instanceof TooManyAttemptsError) {
    return new HttpException(
      { statusCode: HttpStatus.TOO_MANY_REQUESTS, message: `Too many failed attempts: try again in ${error.retryAfterSeconds} s`, error: 'Too Many Requests' },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
  if (error instanceof SessionNotFreshError) {
    logger.debug(`session not fresh: re-authentication within ${error.maxAgeSeconds} s required`);
    return new UnauthorizedException('Re-authentication required');
  }
  logger.debug(`session refused: ${error.reason}`);
  return new UnauthorizedException();
}

/** Headers that go with a library error's answer. @internal */
export function responseHeaders(error: SessionHttpError): Record<string, string> {
  if (error instanceof SessionNotFreshError) return { 'WWW-Authenticate': freshnessChallenge(error.maxAgeSeconds), 'Cache-Control': 'no-store' };
  if (error instanceof TooManyAttemptsError) return { 'Retry-After': String(error.retryAfterSeconds) };
  if (error instanceof SessionRefusedError && error.challenge) return { 'WWW-Authenticate': error.challenge };
  return {};
}
