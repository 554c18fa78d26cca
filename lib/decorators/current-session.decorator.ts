import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { INVALID_TOKEN_CHALLENGE, LEGACY_TOKEN_KEY, SESSION_CONTEXT_KEY } from '../session-revocation.constants.js';
import { SessionRefusedError } from '../session-revocation.errors.js';
import type { SessionContext } from '../interfaces/session-context.interface.js';

/**
 * The object a context's session is kept on: the HTTP request (GraphQL: the context's `req`), the
 * WebSocket client (set by the socket.io / ws adapters), the RPC message's context (else its data).
 * @internal
 */
export function sessionHolder(context: ExecutionContext): Record<string, unknown> | undefined {
  const type = context.getType<string>();
  const holder =
    type === 'graphql'
      ? context.getArgByIndex(2)?.req
      : type === 'ws'
        ? context.switchToWs().getClient()
        : type === 'rpc'
          ? (objectOrUndefined(context.switchToRpc().getContext()) ?? context.switchToRpc().getData())
          : context.switchToHttp().getRequest();
  return objectOrUndefined(holder);
}

/** Reads the session context the guard set on an HTTP or GraphQL request, a WebSocket client or an RPC message. */
export function getSessionContext(context: ExecutionContext): SessionContext | undefined {
  return sessionHolder(context)?.[SESSION_CONTEXT_KEY] as SessionContext | undefined;
}

const objectOrUndefined = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;

/**
 * Injects the authenticated {@link SessionContext} (`userId`, `sessionId`, ...) into a
 * handler parameter: HTTP routes, GraphQL resolvers, `@SubscribeMessage()` handlers of an
 * authenticated gateway, RPC handlers. Undefined on routes marked `@SkipSessionCheck()`. A request authenticated by
 * a legacy token (`legacyTokens` option) has no session: the route answers 401, so a route that
 * works on the session (device list, "log out other devices") never runs for one.
 */
export const CurrentSession = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const holder = sessionHolder(context);
  const session = holder?.[SESSION_CONTEXT_KEY];
  if (session === undefined && holder?.[LEGACY_TOKEN_KEY] !== undefined) throw new SessionRefusedError('legacy', { challenge: INVALID_TOKEN_CHALLENGE });
  return session;
});
