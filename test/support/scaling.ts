import { Module, type INestApplication, type Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  SESSION_REVOCATION_ENTITIES,
  SessionRevocationModule,
  SessionService,
  type SessionRevocationModuleExtras,
  type SessionRevocationModuleOptions,
} from '../../lib/index.js';
import { RevocationNotifier } from '../../lib/bus/revocation-notifier.js';
import { TEST_SECRET, TestController, TestUser } from './test-app.js';
import { freshPostgresSchema, postgresUrl, warnSkipped } from './databases.js';

/**
 * Helpers for the multi-instance specs: several Nest apps in one jest process sharing one
 * database (an SQLite file or one PostgreSQL schema) and, optionally, one Redis.
 */

export { postgresUrl, warnSkipped };
export const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? (process.env.CI ? 'redis://127.0.0.1:6379' : undefined);

/** One database several app instances share. */
export interface SharedDatabase {
  name: 'sqlite' | 'postgres';
  /** Options for one instance; only the first should `synchronize`. */
  options(synchronize: boolean): DataSourceOptions;
  cleanup(): Promise<void>;
}

/** The entities every instance's DataSource needs. */
export const ENTITIES = [TestUser, ...SESSION_REVOCATION_ENTITIES];

function sqliteFile(): SharedDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'scaling-'));
  const database = join(dir, 'shared.sqlite');
  return {
    name: 'sqlite',
    options: (synchronize) => ({ type: 'better-sqlite3', database, entities: ENTITIES, synchronize }),
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh PostgreSQL schema, created before the first instance starts. */
export async function postgresSchema(url: string): Promise<SharedDatabase> {
  const fresh = await freshPostgresSchema(url, 'scal');
  return {
    name: 'postgres',
    options: (synchronize) => ({ ...fresh.options, entities: ENTITIES, synchronize }) as DataSourceOptions,
    cleanup: fresh.drop,
  };
}

/** The shared databases to run on: an SQLite file always, PostgreSQL under CI or with a URL. */
export function sharedDatabases(): Array<[string, () => Promise<SharedDatabase>]> {
  const list: Array<[string, () => Promise<SharedDatabase>]> = [['sqlite', async () => sqliteFile()]];
  if (postgresUrl) list.push(['postgres', () => postgresSchema(postgresUrl!)]);
  else warnSkipped('PostgreSQL', 'set CI=1 or TEST_DATABASE_URL=postgres://... to run them');
  return list;
}

/** One app instance of a multi-instance test. */
export interface Instance {
  app: INestApplication;
  server: any;
  dataSource: DataSource;
  sessions: SessionService;
  notifier: RevocationNotifier;
  close(): Promise<void>;
}

/**
 * Starts an instance (Express, logs off) with the module on `dbOptions`; `options` may carry
 * the extras (`isGlobal`). `moduleFirst` imports SessionRevocationModule before TypeOrmModule
 * (the order decides which of two global modules Nest shuts down first); `providers` join the
 * app's module (gateways), `beforeInit` runs before `app.init()` (a WebSocket adapter).
 */
export async function startInstance(
  dbOptions: DataSourceOptions,
  options: Partial<SessionRevocationModuleOptions> & SessionRevocationModuleExtras = {},
  {
    moduleFirst = false,
    providers = [],
    beforeInit,
  }: { moduleFirst?: boolean; providers?: Provider[]; beforeInit?: (app: INestApplication) => void } = {},
): Promise<Instance> {
  const typeorm = TypeOrmModule.forRoot({ ...dbOptions, logging: false } as any);
  const sessionRevocation = SessionRevocationModule.forRoot({
    userEntity: TestUser,
    jwt: { secret: TEST_SECRET, issuer: 'test', audience: 'test' },
    ...options,
  });
  @Module({
    imports: moduleFirst ? [sessionRevocation, typeorm] : [typeorm, sessionRevocation],
    controllers: [TestController],
    providers,
  })
  class ScalingAppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [ScalingAppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  beforeInit?.(app);
  await app.init();
  return {
    app,
    server: app.getHttpServer(),
    dataSource: app.get(DataSource),
    sessions: app.get(SessionService),
    notifier: app.get(RevocationNotifier),
    close: () => app.close(),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns true or `timeoutMs` passes; returns whether it did and
 * how long it took.
 */
export async function eventually(probe: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 10): Promise<{ ok: boolean; ms: number }> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return { ok: true, ms: Date.now() - start };
    if (Date.now() - start >= timeoutMs) return { ok: false, ms: Date.now() - start };
    await sleep(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A throwaway `redis-server` child process (no persistence) that can be killed and restarted on its port. */
export class RedisProcess {
  private child?: ChildProcess;

  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<RedisProcess> {
    const redis = new RedisProcess(port ?? (await freePort()));
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server on ${this.port} did not start: ${out}`)), 10_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server on ${this.port} exited with ${code}: ${out}`));
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/ready to accept connections/i.test(out)) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve();
        }
      });
    });
  }

  /** SIGKILL: connections drop without a goodbye, as in a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** Whether a redis-server binary can be started here. */
export function redisServerAvailable(): boolean {
  const result = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return !result.error && result.status === 0;
}
