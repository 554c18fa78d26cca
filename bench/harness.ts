/**
 * What every part of bench/run.ts shares: child processes driven over IPC, fresh databases,
 * service probes, HTTP helpers.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { freshPostgresSchema } from '../test/support/databases.js';
import type { DbSpec, IpcResponse, ServerConfig } from './common.js';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..'); // dist-all/bench-build/bench -> repo
export const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

export const log = (message: string) => console.log(`[bench] ${message}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process answering `{ id, cmd, args }` requests. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private exited = false;

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (message: IpcResponse) => {
      const waiter = message && typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    proc.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`child exited with ${code}`));
      this.pending.clear();
    });
  }

  call<T = any>(cmd: string, args?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    await this.call('close').catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export function forkScript(script: string, arg: unknown, execArgv: string[] = [], env?: NodeJS.ProcessEnv): ChildProcess {
  return fork(join(here, script), [JSON.stringify(arg)], { execArgv, env: env ?? process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: repoRoot });
}

/** Runs a one-shot child that answers a single `{ results }` message. */
export function runOnce<T>(script: string, arg: unknown, execArgv: string[] = []): Promise<T> {
  const proc = forkScript(script, arg, execArgv);
  return new Promise<T>((resolve, reject) => {
    let done = false;
    proc.once('message', (message: { results: T }) => {
      done = true;
      resolve(message.results);
    });
    proc.once('exit', (code) => {
      if (!done) reject(new Error(`${script} exited with ${code}`));
    });
  });
}

/** Forks a server child (bench/server.js or bench/sample-server.js) and waits for its port. */
export async function startChild(script: string, arg: unknown, env?: NodeJS.ProcessEnv, execArgv: string[] = ['--expose-gc']): Promise<{ child: Child; port: number }> {
  const proc = forkScript(script, arg, execArgv, env);
  const child = new Child(proc);
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: { ready?: number }) => {
      if (message?.ready) {
        proc.off('message', onMessage);
        resolve(message.ready);
      }
    };
    proc.on('message', onMessage);
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
  });
  return { child, port };
}

export const startServer = (config: ServerConfig) => startChild('server.js', config);

export async function postgresAvailable(): Promise<string | undefined> {
  const admin = new DataSource({ type: 'postgres', url: POSTGRES_URL, connectTimeoutMS: 2000 });
  try {
    await admin.initialize();
    const rows = await admin.query('SHOW server_version');
    return rows[0].server_version as string;
  } catch {
    return undefined;
  } finally {
    if (admin.isInitialized) await admin.destroy();
  }
}

export async function redisAvailable(): Promise<string | undefined> {
  const { Redis } = (await import('ioredis')) as any;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info: string = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1];
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

export type DbKind = 'sqlite' | 'postgres';

/** A fresh, empty database for one run; `drop()` removes it. */
export async function freshDatabase(kind: DbKind): Promise<{ spec: DbSpec; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(os.tmpdir(), 'bench-'));
    return { spec: { kind: 'sqlite', file: join(dir, 'bench.sqlite') }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const { schema, drop } = await freshPostgresSchema(POSTGRES_URL, 'bench');
  return { spec: { kind: 'postgres', url: POSTGRES_URL, schema }, drop };
}

/** A fresh channel name for one bus run. */
export const channelName = () => `bench_${randomBytes(4).toString('hex')}`;

/** One request on its own keep-alive agent; resolves with the status. */
export function getStatus(agent: http.Agent, port: number, path: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Where a round robin over a token list stands: runs against one server continue it, never restart it. */
export interface Cursor {
  next: number;
}

/** `GET /me`, every request with the next of `tokens` (one shared counter): users spread evenly. */
export function cannon(port: number, tokens: string[], limit: { duration: number } | { amount: number }, connections = CONNECTIONS, cursor: Cursor = { next: 0 }): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    ...limit,
    requests: [
      {
        method: 'GET',
        path: '/me',
        setupRequest: (request) => {
          request.headers = { authorization: `Bearer ${tokens[cursor.next]}` };
          cursor.next = (cursor.next + 1) % tokens.length;
          return request;
        },
      },
    ],
  });
}

/** Waits until every child reports its bus up (its cache in use). */
export async function waitForBus(...children: Child[]): Promise<void> {
  for (let i = 0; ; i++) {
    const statuses = await Promise.all(children.map((c) => c.call('status')));
    if (statuses.every((s) => !s.bypassed)) return;
    if (i > 200) throw new Error('the bus did not come up');
    await sleep(50);
  }
}

/** p50 / p99 / max of a list of milliseconds. */
export function spread(values: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const r = (v: number | undefined) => (v === undefined ? NaN : Math.round(v * 100) / 100);
  return { p50: r(at(50)), p99: r(at(99)), max: r(sorted[sorted.length - 1]), n: sorted.length };
}
