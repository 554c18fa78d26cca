import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { INVALID_TOKEN_CHALLENGE, LEGACY_TOKEN_KEY, SESSION_CONTEXT_KEY } from '../session-revocation.constants.js';
import { SessionRefusedError } from '../session-revocation.errors.js';
import type { SessionContext } from '../interfaces/session-context.interface.js';

function requestOf(context: ExecutionContext): any {
  return context.getType<string>() === 'graphql' ? context.getArgByIndex(2)?.req : context.switchToHttp().getRequest();
}

/** Reads the session context of an HTTP or GraphQL request, if the guard set one. */
export function getSessionContext(context: ExecutionContext): SessionContext | undefined {
  return requestOf(context)?.[SESSION_CONTEXT_KEY];
}

/**
 * Injects the authenticated {@link SessionContext} (`userId`, `sessionId`, ...) into a
 * handler parameter. Undefined on routes marked `@SkipSessionCheck()`. A request authenticated by
 * a legacy token (`legacyTokens` option) has no session: the route answers 401, so a route that
 * works on the session (device list, "log out other devices") never runs for one.
 */
export const CurrentSession = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const request = requestOf(context);
  const session = request?.[SESSION_CONTEXT_KEY];
  if (session === undefined && request?.[LEGACY_TOKEN_KEY] !== undefined) throw new SessionRefusedError('legacy', { challenge: INVALID_TOKEN_CHALLENGE });
  return session;
});
