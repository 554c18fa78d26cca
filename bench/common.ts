import { Column, Entity, PrimaryGeneratedColumn, type DataSourceOptions, type Logger as TypeOrmLogger } from 'typeorm';
import { RevokesSessions, SESSION_REVOCATION_ENTITIES, SessionTokenColumn } from '../lib/index.js';
import { SQLITE_SERVER_OPTIONS } from '../sample/database/sqlite-server-options.js';

/** The benchmark's user entity: the shape the README's quick start uses. */
@Entity('users')
export class BenchUser {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar' })
  @RevokesSessions()
  email: string;

  @Column({ type: 'varchar' })
  @RevokesSessions()
  passwordHash: string;

  @SessionTokenColumn()
  sessionToken: string;
}

export const BENCH_SECRET = 'benchmark-secret-that-is-long-enough-0123456789';
export const BENCH_JWT = { secret: BENCH_SECRET, issuer: 'bench', audience: 'bench' };

/**
 * Which guard protects `GET /me`: none; passport-jwt with the secret as a string (how it is
 * usually configured: the floor) or as a KeyObject; this library strict, cached (single
 * instance defaults: ttl 5 s), or cached with a Redis bus (ttl 60 s, the multi-instance setup).
 * The library is configured with the same string secret as (b); it parses it into a KeyObject
 * once at startup. 'session-strategy' is (b2)'s route with the library's SessionJwtStrategy behind
 * `AuthGuard('jwt')` (cached defaults, the library's guard not mounted).
 */
export type GuardKind = 'none' | 'passport' | 'passport-keyobject' | 'strict' | 'cached' | 'cached-bus' | 'session-strategy';

export type DbSpec = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema: string };

export type BusSpec = { kind: 'redis'; url: string; channel: string } | { kind: 'postgres'; channel: string };

/** What a benchmark server child process runs. */
export interface ServerConfig {
  guard: GuardKind;
  db: DbSpec;
  /** Only the first process on a database creates the tables. */
  synchronize: boolean;
  bus?: BusSpec;
  /** Also serve the socket.io namespace `/live` behind `SessionIoAdapter` (the sockets part). */
  sockets?: boolean;
}

/** TypeORM options for the benchmark database. */
export function dataSourceOptions(db: DbSpec, synchronize: boolean, logger?: TypeOrmLogger): DataSourceOptions {
  const entities = [BenchUser, ...SESSION_REVOCATION_ENTITIES];
  // The server settings README "Scaling" recommends for SQLite (the sample's own).
  if (db.kind === 'sqlite') return { type: 'better-sqlite3', database: db.file, entities, synchronize, logger, ...SQLITE_SERVER_OPTIONS };
  return {
    type: 'postgres',
    url: db.url,
    schema: db.schema,
    entities,
    synchronize,
    logger,
    extra: { options: `-c search_path=${db.schema}`, max: 10 },
  };
}

/** IPC between the orchestrator and its children. */
export interface IpcRequest {
  id: number;
  cmd: string;
  args?: any;
}
export interface IpcResponse {
  id: number;
  result?: any;
  error?: string;
}

/** Answers IPC requests from the parent with `handlers`. */
export function serveIpc(handlers: Record<string, (args: any) => Promise<unknown> | unknown>): void {
  process.on('message', async (message: IpcRequest) => {
    const handler = handlers[message.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      process.send!({ id: message.id, result: await handler(message.args) } satisfies IpcResponse);
    } catch (error) {
      process.send!({ id: message.id, error: (error as Error)?.stack ?? String(error) } satisfies IpcResponse);
    }
  });
}

/** Percentile (nearest rank) of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** An SQL text on one line. */
export const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** A TypeORM logger that hands each SQL statement the app sends to `onQuery` (collapse whitespace with {@link oneLine}), and ignores the rest. */
export class StatementListener implements TypeOrmLogger {
  constructor(private readonly onQuery: (sql: string) => void) {}
  logQuery(query: string) {
    this.onQuery(query);
  }
  logQueryError() {}
  logQuerySlow() {}
  logSchemaBuild() {}
  logMigration() {}
  log() {}
}
