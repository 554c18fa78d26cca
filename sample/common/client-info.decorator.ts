import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionClientInfo } from '../../lib/index.js';

/** The client facts recorded with a session: `User-Agent` and the client IP. */
export const ClientInfo = createParamDecorator((_data: unknown, context: ExecutionContext): SessionClientInfo => {
  const request = context.switchToHttp().getRequest<Request>();
  const userAgent = request.headers['user-agent'];
  return { userAgent: typeof userAgent === 'string' ? userAgent : undefined, ip: request.ip };
});
