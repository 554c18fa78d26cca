import { REVOKES_SESSIONS_COLUMNS, SESSION_TOKEN_COLUMN } from '../session-revocation.constants.js';

/** The `@SessionTokenColumn()` property of an entity class, if it has one. */
export function getSessionTokenProperty(target: Function): string | undefined {
  return Reflect.getMetadata(SESSION_TOKEN_COLUMN, target);
}

/** The `@RevokesSessions()` properties of an entity class. */
export function getRevokingProperties(target: Function): string[] {
  return Reflect.getMetadata(REVOKES_SESSIONS_COLUMNS, target) ?? [];
}
