import type { DataSource } from 'typeorm';

/** Database families the library has SQL for. */
export type SqlDialect = 'postgres' | 'sqlite' | 'mysql';

const SQLITE_TYPES = ['sqlite', 'better-sqlite3', 'sqljs', 'capacitor', 'cordova', 'expo', 'nativescript', 'react-native'];

/** The SQL family of a DataSource, or undefined for databases the library has no SQL for. */
export function sqlDialect(dataSource: DataSource): SqlDialect | undefined {
  const type = dataSource.options.type as string;
  if (type === 'postgres' || type === 'aurora-postgres' || type === 'cockroachdb') return 'postgres';
  if (SQLITE_TYPES.includes(type)) return 'sqlite';
  if (type === 'mysql' || type === 'mariadb' || type === 'aurora-mysql') return 'mysql';
  return undefined;
}

/**
 * A SQL expression that yields a fresh random session token for each row it is evaluated
 * on, so a bulk UPDATE gives every row its own value.
 */
export function randomTokenSql(dialect: SqlDialect): string {
  switch (dialect) {
    case 'postgres':
      return "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')";
    case 'sqlite':
      return 'lower(hex(randomblob(16)))';
    case 'mysql':
      return 'lower(hex(random_bytes(16)))';
  }
}
