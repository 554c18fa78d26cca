import type { EntityMetadata } from 'typeorm';
import { REVOKES_SESSIONS_COLUMNS, SESSION_TOKEN_COLUMN } from '../session-revocation.constants.js';

/** The `@SessionTokenColumn()` property of an entity class, if it has one. */
export function getSessionTokenProperty(target: Function): string | undefined {
  return Reflect.getMetadata(SESSION_TOKEN_COLUMN, target);
}

/** The `@RevokesSessions()` properties of an entity class. */
export function getRevokingProperties(target: Function): string[] {
  return Reflect.getMetadata(REVOKES_SESSIONS_COLUMNS, target) ?? [];
}

/**
 * The columns whose change rotates the session token: the `@RevokesSessions()` ones and the
 * `@DeleteDateColumn()`, so a soft-deleted user who is restored does not get old sessions back.
 * @internal
 */
export function getRotatingColumns(metadata: EntityMetadata): EntityMetadata['columns'] {
  const columns = getRevokingProperties(metadata.target as Function).map((property) => {
    const column = metadata.findColumnWithPropertyName(property);
    if (!column) throw new Error(`${metadata.name}.${property} has @RevokesSessions() but is not a column`);
    return column;
  });
  if (metadata.deleteDateColumn && !columns.includes(metadata.deleteDateColumn)) columns.push(metadata.deleteDateColumn);
  return columns;
}
