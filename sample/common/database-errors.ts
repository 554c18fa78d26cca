import { HttpException } from '@nestjs/common';
import { QueryFailedError, TypeORMError } from 'typeorm';

/** True when a write failed on a unique constraint (PostgreSQL 23505, MySQL/MariaDB ER_DUP_ENTRY, SQLite SQLITE_CONSTRAINT_UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = (error as QueryFailedError & { driverError?: { code?: string } }).driverError;
  const code = driverError?.code ?? (error as { code?: string }).code;
  return code === '23505' || code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * SQLSTATE classes that mean "the database cannot answer now" (PostgreSQL; MySQL/MariaDB's
 * `sqlState` too): 08 connection exception, 53 insufficient resources (too many connections,
 * disk full), 55 object not in prerequisite state (database not accepting connections, lock
 * not available), 57 operator intervention (shutdown, cannot connect now, statement timeout).
 */
const OUTAGE_SQLSTATE_CLASSES = new Set(['08', '53', '55', '57']);

/** Socket errors, and MySQL/MariaDB (mysql2) errors of a lost, refused or overloaded server. */
const OUTAGE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_SERVER_SHUTDOWN', 'ER_NORMAL_SHUTDOWN', 'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED', 'ER_LOCK_WAIT_TIMEOUT', 'ER_OUT_OF_RESOURCES', 'ER_NET_READ_ERROR', 'ER_NET_READ_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE', 'ER_NET_WRITE_INTERRUPTED',
]);

/** True for a driver error code (`error.code`) of an outage: {@link OUTAGE_CODES}, an outage SQLSTATE class, any SQLite code. */
export function isOutageCode(code: string): boolean {
  return OUTAGE_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && OUTAGE_SQLSTATE_CLASSES.has(code.slice(0, 2))) || code.startsWith('SQLITE_');
}

/**
 * True for errors that mean "the database cannot answer" rather than a bug in a handler: TypeORM
 * errors, SQLite errors, and the raw driver errors TypeORM passes through unwrapped (a refused
 * or lost connection, a database that accepts no connections, a mysql2 `fatal` error).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof HttpException) return false;
  if (error instanceof TypeORMError || error.name === 'SqliteError') return true;
  const { code, sqlState, fatal } = error as { code?: unknown; sqlState?: unknown; fatal?: unknown };
  if (fatal === true || (typeof code === 'string' && isOutageCode(code))) return true;
  if (typeof sqlState === 'string' && OUTAGE_SQLSTATE_CLASSES.has(sqlState.slice(0, 2))) return true;
  return /database connection is not open|Connection terminated|connection timeout|not queryable/i.test(error.message);
}
