import { Column, type ColumnOptions } from 'typeorm';
import { SESSION_TOKEN_COLUMN } from '../session-revocation.constants.js';

/**
 * Marks the per-user session-token column. The library fills it with 128 random bits on
 * insert and regenerates it whenever a `@RevokesSessions()` column changes or
 * `SessionService.invalidateSessions()` is called. It is `select: false` by default so it
 * never leaves the database by accident; the raw value never goes into a JWT.
 *
 * @param options extra TypeORM column options (e.g. `name`).
 */
export function SessionTokenColumn(options: Omit<ColumnOptions, 'type' | 'length'> = {}): PropertyDecorator {
  return (target, propertyKey) => {
    Reflect.defineMetadata(SESSION_TOKEN_COLUMN, propertyKey, target.constructor);
    Column({ type: 'varchar', length: 64, nullable: true, select: false, ...options })(target, propertyKey);
  };
}
