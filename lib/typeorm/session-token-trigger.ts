import { createHash } from 'node:crypto';
import type { DataSource, EntityMetadata, EntityTarget, MigrationInterface, ObjectLiteral, QueryRunner } from 'typeorm';
import { getRotatingColumns, getSessionTokenProperty } from './entity-metadata.js';
import { randomTokenSql, sqlDialect, type SqlDialect } from './session-token-sql.js';
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
   * PostgreSQL: NOTIFY channel told of every rotation and every deleted user row, so
   * instances using the `postgresNotify` bus drop their cache at once. Default
   * `session_revocation`; `false` for none.
   */
  notifyChannel?: string | false;
}

/** The SQL family of a DataSource the trigger supports, or undefined (CockroachDB has no triggers the same way). */
export function triggerDialect(dataSource: DataSource): SqlDialect | undefined {
  return dataSource.options.type === 'cockroachdb' ? undefined : sqlDialect(dataSource);
}

/**
 * Builds the SQL of a database trigger that regenerates the session token whenever a
 * `@RevokesSessions()` column (or the `@DeleteDateColumn()`) really changes, whoever writes
 * it (raw SQL, other services, `callListeners(false)`, upserts). It never keeps a token value
 * the UPDATE itself set when it rotates. PostgreSQL, MySQL/MariaDB and SQLite are supported;
 * the table is the one TypeORM resolves for the entity (schema or database option, naming
 * strategy), quoted by the driver. On PostgreSQL it also notifies `notifyChannel` of
 * rotations and of deleted user rows.
 */
export function sessionTokenTriggerSql(
  dataSource: DataSource,
  userEntity: EntityTarget<ObjectLiteral>,
  options: SessionTokenTriggerOptions = {},
): SessionTokenTriggerSql {
  const metadata = dataSource.getMetadata(userEntity);
  const tokenProperty = getSessionTokenProperty(metadata.target as Function);
  const rotating = getRotatingColumns(metadata);
  if (!tokenProperty || rotating.length === 0) {
    throw new Error(`${metadata.name} needs a @SessionTokenColumn() and at least one @RevokesSessions() column for the trigger`);
  }
  const dialect = triggerDialect(dataSource);
  if (!dialect) throw new Error(`The session-token trigger supports PostgreSQL, MySQL/MariaDB and SQLite, not ${String(dataSource.options.type)}`);
  const q = (name: string) => dataSource.driver.escape(name);
  const token = q(metadata.findColumnWithPropertyName(tokenProperty)!.databaseName);
  const watched = rotating.map((c) => q(c.databaseName));
  const pk = metadata.primaryColumns.length === 1 ? q(metadata.primaryColumns[0].databaseName) : undefined;
  // Where TypeORM puts the table: PostgreSQL schema, MySQL database (SQLite has neither).
  const container = dialect === 'postgres' ? metadata.schema : dialect === 'mysql' ? metadata.database : undefined;
  const qualified = (name: string) => (container ? `${q(container)}.${q(name)}` : q(name));
  const table = qualified(metadata.tableName);
  const name = (suffix: string) => objectName(metadata, suffix);

  if (dialect === 'postgres') {
    const channel = options.notifyChannel ?? DEFAULT_BUS_CHANNEL;
    if (channel !== false && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(channel)) throw new Error('notifyChannel must be a plain identifier');
    const notify = (row: 'NEW' | 'OLD') =>
      channel !== false && pk ? `\n    PERFORM pg_notify('${channel}', json_build_object('t', 'user', 'id', ${row}.${pk}::text)::text);` : '';
    const fn = qualified(name('rotate_session_token'));
    const rotate = q(name('rotate_session_token'));
    const deleted = q(name('session_token_deleted'));
    const up = [
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN${notify('OLD')}
    RETURN OLD;
  END IF;
  IF ${watched.map((c) => `NEW.${c} IS DISTINCT FROM OLD.${c}`).join(' OR ')} THEN
    NEW.${token} := ${randomTokenSql('postgres')};${notify('NEW')}
  END IF;
  RETURN NEW;
END $$`,
      `DROP TRIGGER IF EXISTS ${rotate} ON ${table}`,
      `CREATE TRIGGER ${rotate} BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
      `DROP TRIGGER IF EXISTS ${deleted} ON ${table}`,
    ];
    if (notify('OLD')) up.push(`CREATE TRIGGER ${deleted} AFTER DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    return {
      up,
      down: [`DROP TRIGGER IF EXISTS ${deleted} ON ${table}`, `DROP TRIGGER IF EXISTS ${rotate} ON ${table}`, `DROP FUNCTION IF EXISTS ${fn}()`],
    };
  }
  const trigger = qualified(name('rotate_session_token'));
  if (dialect === 'mysql') {
    // Byte-wise and NULL-safe: a case-insensitive collation must not hide a changed value.
    const changed = watched.map((c) => `NOT (CAST(NEW.${c} AS BINARY) <=> CAST(OLD.${c} AS BINARY))`).join(' OR ');
    return {
      up: [
        `DROP TRIGGER IF EXISTS ${trigger}`,
        `CREATE TRIGGER ${trigger} BEFORE UPDATE ON ${table} FOR EACH ROW
BEGIN
  IF ${changed} THEN
    SET NEW.${token} = ${randomTokenSql('mysql')};
  END IF;
END`,
      ],
      down: [`DROP TRIGGER IF EXISTS ${trigger}`],
    };
  }
  if (!pk) throw new Error(`${metadata.name} needs a single-column primary key for the SQLite trigger`);
  return {
    up: [
      `DROP TRIGGER IF EXISTS ${trigger}`,
      `CREATE TRIGGER ${trigger} AFTER UPDATE OF ${watched.join(', ')} ON ${table} FOR EACH ROW WHEN ${watched.map((c) => `NEW.${c} IS NOT OLD.${c}`).join(' OR ')}
BEGIN
  UPDATE ${table} SET ${token} = ${randomTokenSql('sqlite')} WHERE ${pk} = NEW.${pk};
END`,
    ],
    down: [`DROP TRIGGER IF EXISTS ${trigger}`],
  };
}

/** `<table>_<suffix>`, shortened with a hash of the table name to fit 63 characters (PostgreSQL's and MySQL's limit). */
function objectName(metadata: EntityMetadata, suffix: string): string {
  const full = `${metadata.tableName}_${suffix}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(metadata.tableName).digest('hex').slice(0, 8);
  return `${metadata.tableName.slice(0, 62 - suffix.length - hash.length - 1)}_${hash}_${suffix}`;
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
