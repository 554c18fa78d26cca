import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { TypeORMError } from 'typeorm';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300']);

/**
 * True for errors that mean "the database cannot answer" rather than a bug: TypeORM errors,
 * driver errors (SQLite, PostgreSQL connection and admin-shutdown codes) and lost connections.
 */
export function isDatabaseError(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof HttpException) return false;
  if (error instanceof TypeORMError || error.name === 'SqliteError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('SQLITE_'))) return true;
  return /database connection is not open|Connection terminated|connection timeout/i.test(error.message);
}

/**
 * The sample's own queries (login, register, ...) answer 503 like the library's when the
 * database is down, instead of Nest's generic 500. Logged without the error message, which may
 * carry SQL parameters.
 */
@Catch()
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Database');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http' || !isDatabaseError(exception)) return super.catch(exception, host);
    const code = (exception as { code?: unknown }).code;
    this.logger.error(`database unavailable, answering 503 (${(exception as Error).name}${typeof code === 'string' ? ` ${code}` : ''})`);
    const response = host.switchToHttp().getResponse();
    const status = HttpStatus.SERVICE_UNAVAILABLE;
    if (response.headersSent) return;
    response.status(status).json({ statusCode: status, message: 'Service Unavailable' });
  }
}
