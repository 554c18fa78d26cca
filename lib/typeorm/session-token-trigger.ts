import type { DataSource, EntityTarget, MigrationInterface, ObjectLiteral, QueryRunner } from 'typeorm';
import { getRevokingProperties, getSessionTokenProperty } from './entity-metadata.js';
import { randomTokenSql, sqlDialect } from './session-token-sql.js';
import { DEFAULT_BUS_CHANNEL } from '../session-revocation.constants.js';

/** SQL that installs and removes the session-token trigger. */
export interface SessionTokenTriggerSql {
  /** Statements that install the trigger. */
  up: string[];
  /** Statements that remove it. */
  down: string[];
}

/** Options of the session-token trigger. */
export interface SessionTokenTriggerOptions {
  /**
   * PostgreSQL: NOTIFY channel told of every rotation so instances using the
   * `postgresNotify` bus drop their cache at once. Default `session_revocation`; `false` for none.
   */
  notifyChannel?: string | false;
}

/**
 * Builds the SQL of a database trigger that regenerates the session token whenever a
 * `@RevokesSessions()` column changes, whoever writes it (raw SQL, other services,
 * `callListeners(false)`). PostgreSQL and SQLite are supported.
 */
export function sessionTokenTriggerSql(
  dataSource: DataSource,
  userEntity: EntityTarget<ObjectLiteral>,
  options: SessionTokenTriggerOptions = {},
): SessionTokenTriggerSql {
  const metadata = dataSource.getMetadata(userEntity);
  const target = metadata.target as Function;
  const tokenProperty = getSessionTokenProperty(target);
  const revoking = getRevokingProperties(target);
  if (!tokenProperty || revoking.length === 0) {
    throw new Error(`${metadata.name} needs a @SessionTokenColumn() and at least one @RevokesSessions() column for the trigger`);
  }
  const q = (name: string) => dataSource.driver.escape(name);
  const column = (property: string) => {
    const found = metadata.findColumnWithPropertyName(property);
    if (!found) throw new Error(`${metadata.name}.${property} is not a column`);
    return found.databaseName;
  };
  const table = metadata.tableName;
  const token = q(column(tokenProperty));
  const watched = revoking.map(column);
  const name = `${table}_rotate_session_token`;
  const dialect = sqlDialect(dataSource);
  if (dialect === 'postgres') {
    const changed = watched.map((c) => `NEW.${q(c)} IS DISTINCT FROM OLD.${q(c)}`).join(' OR ');
    const channel = options.notifyChannel ?? DEFAULT_BUS_CHANNEL;
    if (channel !== false && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(channel)) throw new Error('notifyChannel must be a plain identifier');
    const pk = metadata.primaryColumns.length === 1 ? q(metadata.primaryColumns[0].databaseName) : undefined;
    const notify = channel !== false && pk
      ? `\n    PERFORM pg_notify('${channel}', json_build_object('t', 'user', 'id', NEW.${pk}::text)::text);`
      : '';
    return {
      up: [
        `CREATE OR REPLACE FUNCTION ${q(name)}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF ${changed} THEN
    NEW.${token} := ${randomTokenSql('postgres')};${notify}
  END IF;
  RETURN NEW;
END $$`,
        `DROP TRIGGER IF EXISTS ${q(name)} ON ${q(table)}`,
        `CREATE TRIGGER ${q(name)} BEFORE UPDATE ON ${q(table)} FOR EACH ROW EXECUTE FUNCTION ${q(name)}()`,
      ],
      down: [`DROP TRIGGER IF EXISTS ${q(name)} ON ${q(table)}`, `DROP FUNCTION IF EXISTS ${q(name)}()`],
    };
  }
  if (dialect === 'sqlite') {
    if (metadata.primaryColumns.length !== 1) throw new Error(`${metadata.name} needs a single-column primary key for the SQLite trigger`);
    const pk = q(metadata.primaryColumns[0].databaseName);
    const changed = watched.map((c) => `NEW.${q(c)} IS NOT OLD.${q(c)}`).join(' OR ');
    return {
      up: [
        `DROP TRIGGER IF EXISTS ${q(name)}`,
        `CREATE TRIGGER ${q(name)} AFTER UPDATE OF ${watched.map(q).join(', ')} ON ${q(table)} FOR EACH ROW WHEN ${changed}
BEGIN
  UPDATE ${q(table)} SET ${token} = ${randomTokenSql('sqlite')} WHERE ${pk} = NEW.${pk};
END`,
      ],
      down: [`DROP TRIGGER IF EXISTS ${q(name)}`],
    };
  }
  throw new Error(`The session-token trigger supports PostgreSQL and SQLite, not ${String(dataSource.options.type)}`);
}

/** Installs the session-token trigger directly (for tests, scripts, `synchronize` setups). */
export async function installSessionTokenTrigger(
  dataSource: DataSource,
  userEntity: EntityTarget<ObjectLiteral>,
  options?: SessionTokenTriggerOptions,
): Promise<void> {
  for (const sql of sessionTokenTriggerSql(dataSource, userEntity, options).up) await dataSource.query(sql);
}

/**
 * Creates a TypeORM migration class that installs the session-token trigger.
 *
 * ```ts
 * export const SessionTokenTrigger1700000000000 = createSessionTokenTriggerMigration(User, 'SessionTokenTrigger1700000000000');
 * ```
 */
export function createSessionTokenTriggerMigration(
  userEntity: EntityTarget<ObjectLiteral>,
  name = 'SessionTokenTrigger1700000000000',
  options?: SessionTokenTriggerOptions,
): new () => MigrationInterface {
  const migration = class implements MigrationInterface {
    name = name;
    async up(queryRunner: QueryRunner): Promise<void> {
      for (const sql of sessionTokenTriggerSql(queryRunner.connection, userEntity, options).up) await queryRunner.query(sql);
    }
    async down(queryRunner: QueryRunner): Promise<void> {
      for (const sql of sessionTokenTriggerSql(queryRunner.connection, userEntity, options).down) await queryRunner.query(sql);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}
