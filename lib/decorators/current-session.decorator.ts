import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { SESSION_CONTEXT_KEY } from '../session-revocation.constants.js';
import type { SessionContext } from '../interfaces/session-context.interface.js';

/** Reads the session context of an HTTP or GraphQL request, if the guard set one. */
export function getSessionContext(context: ExecutionContext): SessionContext | undefined {
  const request = context.getType<string>() === 'graphql'
    ? context.getArgByIndex(2)?.req
    : context.switchToHttp().getRequest();
  return request?.[SESSION_CONTEXT_KEY];
}

/**
 * Injects the authenticated {@link SessionContext} (`userId`, `sessionId`, ...) into a
 * handler parameter. Undefined on routes marked `@SkipSessionCheck()`.
 */
export const CurrentSession = createParamDecorator((_data: unknown, context: ExecutionContext) => getSessionContext(context));
