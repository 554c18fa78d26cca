import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';

/** The database families the specs run on. */
export type DatabaseName = 'sqlite' | 'postgres' | 'mariadb';

/**
 * A database a spec runs against: SQLite always; PostgreSQL and MySQL/MariaDB under CI or
 * with a URL. Each `options()` call creates a fresh, randomly named database (own in-memory
 * file, own PostgreSQL schema, own MySQL database) that `cleanup()` drops.
 */
export interface TestDatabase {
  name: DatabaseName;
  /** DataSource options for a fresh, isolated database. */
  options(entities: DataSourceOptions['entities']): Promise<DataSourceOptions>;
  /** Drops what `options()` created. */
  cleanup(): Promise<void>;
}

/** PostgreSQL server of the specs: `TEST_DATABASE_URL` (or `DATABASE_URL`), or the CI one. */
export const postgresUrl =
  process.env.TEST_DATABASE_URL ?? (process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined) ?? (process.env.CI ? 'postgres://postgres@127.0.0.1:5432/test' : undefined);
/**
 * MySQL/MariaDB server of the specs: `TEST_MYSQL_URL`, or under CI the machine's MariaDB
 * through TypeORM's `mysql` driver (as the sample's `DATABASE_URL=mysql://...`). A
 * `mariadb://` URL selects TypeORM's `mariadb` type instead.
 */
export const mysqlUrl = process.env.TEST_MYSQL_URL ?? (process.env.CI ? 'mysql://root@127.0.0.1:3306/test' : undefined);

const randomName = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

/** Runs statements on a short-lived admin connection. */
async function admin(options: DataSourceOptions, ...statements: string[]): Promise<void> {
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  try {
    for (const sql of statements) await dataSource.query(sql);
  } finally {
    await dataSource.destroy();
  }
}

/** A fresh PostgreSQL schema on `url` (search_path set to it); `drop()` removes it with everything in it. */
export async function freshPostgresSchema(url: string, prefix = 't'): Promise<{ schema: string; options: DataSourceOptions; drop(): Promise<void> }> {
  const schema = randomName(prefix);
  await admin({ type: 'postgres', url }, `CREATE SCHEMA "${schema}"`);
  return {
    schema,
    options: { type: 'postgres', url, schema, extra: { options: `-c search_path=${schema}`, max: 10 } },
    drop: () => admin({ type: 'postgres', url }, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`),
  };
}

/** Connection options of a `mysql://` or `mariadb://` URL (TypeORM type `mysql` or `mariadb`), on `database` (none: the server only). */
export function mysqlOptions(url: string, database: string | undefined): DataSourceOptions {
  const target = new URL(url);
  target.pathname = database ? `/${encodeURIComponent(database)}` : '';
  return { type: target.protocol === 'mariadb:' ? 'mariadb' : 'mysql', url: target.toString(), charset: 'utf8mb4' };
}

/** A fresh MySQL/MariaDB database on `url`; `drop()` removes it. */
export async function freshMysqlDatabase(url: string, prefix = 't'): Promise<{ database: string; options: DataSourceOptions; drop(): Promise<void> }> {
  const database = randomName(prefix);
  const server = mysqlOptions(url, undefined);
  await admin(server, `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
  return {
    database,
    options: { ...mysqlOptions(url, database), extra: { connectionLimit: 10 } } as DataSourceOptions,
    drop: () => admin(server, `DROP DATABASE IF EXISTS \`${database}\``),
  };
}

function sqlite(): TestDatabase {
  return {
    name: 'sqlite',
    async options(entities) {
      return { type: 'better-sqlite3', database: ':memory:', entities, synchronize: true };
    },
    async cleanup() {},
  };
}

/** A TestDatabase over a `fresh()` helper; each `options()` call makes a new one. */
function server(name: DatabaseName, fresh: () => Promise<{ options: DataSourceOptions; drop(): Promise<void> }>): TestDatabase {
  const drops: Array<() => Promise<void>> = [];
  return {
    name,
    async options(entities) {
      const created = await fresh();
      drops.push(created.drop);
      return { ...created.options, entities, synchronize: true } as DataSourceOptions;
    },
    async cleanup() {
      for (const drop of drops.splice(0)) await drop();
    },
  };
}

const warned = new Set<string>();
/** Says once per process that a group of tests was skipped and how to run it. */
export function warnSkipped(what: string, how: string): void {
  if (warned.has(what)) return;
  warned.add(what);
  console.warn(`${what} tests SKIPPED: ${how}`);
}

/** One fresh database of a family (for specs that need a particular one); undefined when it is not configured. */
export function testDatabase(name: DatabaseName): TestDatabase | undefined {
  if (name === 'sqlite') return sqlite();
  if (name === 'postgres') return postgresUrl ? server('postgres', () => freshPostgresSchema(postgresUrl!)) : undefined;
  return mysqlUrl ? server('mariadb', () => freshMysqlDatabase(mysqlUrl!)) : undefined;
}

/**
 * The databases to run a spec on: SQLite always; PostgreSQL when `CI` is set or
 * `TEST_DATABASE_URL` is given; MySQL/MariaDB when `CI` is set or `TEST_MYSQL_URL` is given.
 * A family that is not configured is reported once as SKIPPED.
 */
export function testDatabases(): Array<[DatabaseName, () => TestDatabase]> {
  const list: Array<[DatabaseName, () => TestDatabase]> = [];
  for (const name of ['sqlite', 'postgres', 'mariadb'] as const) {
    if (testDatabase(name)) list.push([name, () => testDatabase(name)!]);
  }
  if (!postgresUrl) warnSkipped('PostgreSQL', 'set CI=1 or TEST_DATABASE_URL=postgres://... to run them');
  if (!mysqlUrl) warnSkipped('MariaDB', 'set CI=1 or TEST_MYSQL_URL=mysql://... (or mariadb://...) to run them');
  return list;
}
