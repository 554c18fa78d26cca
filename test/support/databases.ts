import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';

/** A database a spec runs against: SQLite always, PostgreSQL under CI or with a URL. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** DataSource options for a fresh, isolated database (own file or own schema). */
  options(entities: DataSourceOptions['entities']): Promise<DataSourceOptions>;
  /** Drops what `options()` created. */
  cleanup(): Promise<void>;
}

const postgresUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? (process.env.CI ? 'postgres://postgres@127.0.0.1:5432/test' : undefined);
let warned = false;

function sqlite(): TestDatabase {
  return {
    name: 'sqlite',
    async options(entities) {
      return { type: 'better-sqlite3', database: ':memory:', entities, synchronize: true };
    },
    async cleanup() {},
  };
}

function postgres(url: string): TestDatabase {
  const schema = `t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  return {
    name: 'postgres',
    async options(entities) {
      const admin = new DataSource({ type: 'postgres', url });
      await admin.initialize();
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await admin.destroy();
      return { type: 'postgres', url, schema, entities, synchronize: true, extra: { options: `-c search_path=${schema}`, max: 10 } };
    },
    async cleanup() {
      const admin = new DataSource({ type: 'postgres', url });
      await admin.initialize();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

/**
 * The databases to run a spec on. PostgreSQL joins when `CI` is set or `TEST_DATABASE_URL`
 * / `DATABASE_URL` is given; otherwise the spec says once that it skipped it.
 */
export function testDatabases(): Array<[string, () => TestDatabase]> {
  const list: Array<[string, () => TestDatabase]> = [['sqlite', sqlite]];
  if (postgresUrl) list.push(['postgres', () => postgres(postgresUrl)]);
  else if (!warned) {
    warned = true;
    console.warn('PostgreSQL tests SKIPPED: set CI=1 or TEST_DATABASE_URL=postgres://... to run them');
  }
  return list;
}
