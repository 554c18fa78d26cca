import type { DataSource, EntityMetadata } from 'typeorm';
import { SessionRevocationConfigError } from '../session-revocation.errors.js';
import { triggerDialect } from './session-token-trigger.js';

/** What the module's options ask of the DataSource (each set field names the option that asks it). @internal */
export interface DataSourceRequirements {
  /** The user entity (option `userEntity`), when the TypeORM store uses it. */
  userEntity?: Function;
  /** The option that selects the PostgreSQL LISTEN/NOTIFY bus, when one does (`'postgresNotify'`, `'bus'`). */
  postgresBus?: string;
  /** The option that asks for the session-token trigger, when one does. */
  trigger?: string;
}

const NUMERIC_TYPES = ['int', 'integer', 'bigint', 'smallint', 'int2', 'int4', 'int8', 'numeric', 'decimal', 'tinyint', 'mediumint', 'number'];
const STRING_TYPES = [
  'varchar', 'character varying', 'char', 'character', 'nvarchar', 'nchar', 'national varchar', 'national char', 'varchar2', 'nvarchar2',
  'text', 'tinytext', 'mediumtext', 'longtext', 'citext', 'string',
];

/** How the library carries a user id: a number, a UUID or a string; undefined when it cannot (binary, dates, JSON, composite keys). @internal */
export function userIdKind(metadata: EntityMetadata): 'number' | 'uuid' | 'string' | undefined {
  if (metadata.primaryColumns.length !== 1) return undefined;
  const { type } = metadata.primaryColumns[0];
  if (type === Number) return 'number';
  if (type === String) return 'string';
  const name = typeof type === 'string' ? type.toLowerCase() : '';
  if (name === 'uuid' || name === 'uniqueidentifier') return 'uuid';
  if (NUMERIC_TYPES.includes(name)) return 'number';
  return STRING_TYPES.includes(name) ? 'string' : undefined;
}

/**
 * Checks at startup that the DataSource can do what the options ask, so a wrong setup fails
 * with an error naming the option instead of misbehaving later: the PostgreSQL bus needs a
 * PostgreSQL DataSource, the trigger a database it has SQL for, and the user entity a
 * single-column primary key of a type sessions can carry (integer, UUID or string).
 * @throws SessionRevocationConfigError
 * @internal
 */
export function assertDataSourceSupported(dataSource: DataSource, requirements: DataSourceRequirements): void {
  const type = String(dataSource.options.type);
  if (requirements.postgresBus && type !== 'postgres') {
    throw new SessionRevocationConfigError(
      requirements.postgresBus,
      `needs a PostgreSQL DataSource (LISTEN/NOTIFY), but this one is ${type}; use the Redis bus ({ redis: { url } }) on other databases`,
    );
  }
  if (requirements.trigger && !triggerDialect(dataSource)) {
    throw new SessionRevocationConfigError(requirements.trigger, `asks for the session-token trigger, which supports PostgreSQL, MySQL/MariaDB and SQLite, not ${type}`);
  }
  const entity = requirements.userEntity;
  if (!entity) return;
  if (!dataSource.hasMetadata(entity)) {
    throw new SessionRevocationConfigError('userEntity', `(${entity.name}) is not an entity of the DataSource`);
  }
  const metadata = dataSource.getMetadata(entity);
  if (metadata.primaryColumns.length !== 1) {
    throw new SessionRevocationConfigError('userEntity', `(${entity.name}) needs a single-column primary key`);
  }
  if (!userIdKind(metadata)) {
    const pk = metadata.primaryColumns[0];
    const typeName = typeof pk.type === 'function' ? pk.type.name : String(pk.type);
    throw new SessionRevocationConfigError('userEntity', `(${entity.name}) has a primary key of type ${typeName}, which sessions cannot carry; use an integer, UUID or string primary key`);
  }
}
