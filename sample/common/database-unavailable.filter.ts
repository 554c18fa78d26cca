import { Catch, HttpStatus, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { isDatabaseUnavailable } from './database-errors.js';

/**
 * The sample's own queries (login, register, ...) answer 503 like the library's when the
 * database is down (see {@link isDatabaseUnavailable}), instead of Nest's generic 500. Logged
 * as one short line: the error's name and code, never its message, SQL or parameters.
 */
@Catch()
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Database');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http' || !isDatabaseUnavailable(exception)) return super.catch(exception, host);
    const code = (exception as { code?: unknown }).code;
    this.logger.error(`database unavailable, answering 503 (${(exception as Error).name}${typeof code === 'string' ? ` ${code.slice(0, 40)}` : ''})`);
    const response = host.switchToHttp().getResponse();
    const status = HttpStatus.SERVICE_UNAVAILABLE;
    if (response.headersSent) return;
    response.status(status).json({ statusCode: status, message: 'Service Unavailable' });
  }
}
