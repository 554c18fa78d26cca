/**
 * Part 3 of bench/run.ts: logins and refreshes. (a) The library alone: `SessionService.issue()`
 * and `refresh()` in the benchmark server, 10 at a time. (b) The sample's `POST /auth/login`
 * with its own argon2id hashing (libuv's thread pool), its per-IP limit off
 * (`AUTH_RATE_LIMIT_PER_IP=0`): logins/s, then `GET /health` latency while 50 clients send wrong
 * passwords for unknown emails (each one a full argon2id verification against the dummy hash).
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { round } from './common.js';
import { freshDatabase, log, POSTGRES_URL, spread, startChild, startServer, type DbKind } from './harness.js';

export interface LibraryLogins {
  db: DbKind;
  loginsPerSec: number;
  refreshesPerSec: number;
  /** SQL statements one refresh sends. */
  statementsPerRefresh: number;
}

export interface SampleLogins {
  db: DbKind;
  /** Correct-password logins/s through POST /auth/login (10 connections). */
  loginsPerSec: number;
  loginP99Ms: number;
  /** While 50 connections send wrong passwords: their attempts/s and GET /health latency. */
  wrongPasswordAttemptsPerSec: number;
  wrongPasswordStatuses: Record<string, number>;
  healthMs: { p50: number; p99: number; max: number; n: number };
  loadAverage: number;
}

export async function libraryLogins(db: DbKind, count: number): Promise<LibraryLogins> {
  const database = await freshDatabase(db);
  const { child } = await startServer({ guard: 'cached', db: database.spec, synchronize: true });
  try {
    const userIds: number[] = await child.call('createUsers', { count, prefix: 'login' });
    const r = await child.call('loginsAndRefreshes', { userIds, concurrency: 10 });
    return { db, loginsPerSec: Math.round((r.logins / r.loginMs) * 1000), refreshesPerSec: Math.round((r.logins / r.refreshMs) * 1000), statementsPerRefresh: round(r.refreshStatements, 1) };
  } finally {
    await child.stop();
    await database.drop();
  }
}

/** A fresh PostgreSQL database for the sample (it uses the default schema). */
async function freshPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bench_sample_${randomBytes(4).toString('hex')}`;
  const admin = new DataSource({ type: 'postgres', url: POSTGRES_URL });
  await admin.initialize();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.destroy();
    },
  };
}

function post(port: number, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(data);
  });
}

export async function sampleLogins(db: DbKind, users: number, durationS: number): Promise<SampleLogins> {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'bench-sample-'));
  const pg = db === 'postgres' ? await freshPgDatabase() : undefined;
  const env = {
    ...process.env,
    BENCH_DATA_DIR: dataDir,
    DATABASE_URL: pg?.url ?? '',
    REDIS_URL: '',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    AUTH_RATE_LIMIT_PER_IP: '0',
    ADMIN_EMAIL: '',
    ADMIN_PASSWORD: '',
  };
  const { child, port } = await startChild('sample-server.js', {}, env);
  try {
    const accounts = Array.from({ length: users }, (_, i) => ({ email: `login-${i}@bench.example`, password: `${randomBytes(12).toString('base64url')}-Aa1!` }));
    for (let i = 0; i < accounts.length; i += 10) {
      const statuses = await Promise.all(accounts.slice(i, i + 10).map((a) => post(port, '/auth/register', a)));
      if (statuses.some((s) => s !== 201)) throw new Error(`register answered ${statuses.join(',')}`);
    }
    let next = 0;
    const logins = await autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 10,
      duration: durationS,
      requests: [
        {
          method: 'POST',
          path: '/auth/login',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: JSON.stringify(accounts[next++ % accounts.length]) }),
        },
      ],
    });
    if (logins.non2xx > 0) log(`sample login on ${db}: ${logins.non2xx} non-2xx answers`);

    // 50 clients, wrong passwords for unknown emails; GET /health probed meanwhile.
    const loadAverage = round(os.loadavg()[0]);
    const statuses: Record<string, number> = {};
    const hammer = autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 50,
      duration: durationS,
      requests: [
        {
          method: 'POST',
          path: '/auth/login',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ email: `nobody-${randomBytes(6).toString('hex')}@bench.example`, password: 'wrong-password-123' }) }),
          onResponse: (status) => void (statuses[status] = (statuses[status] ?? 0) + 1),
        },
      ],
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const health: number[] = [];
    const until = performance.now() + durationS * 1000 - 500;
    await new Promise((r) => setTimeout(r, 500));
    while (performance.now() < until) {
      const start = performance.now();
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET /health answered ${res.statusCode}`))));
          })
          .on('error', reject);
      });
      health.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 20));
    }
    const wrong = await hammer;
    agent.destroy();
    return {
      db,
      loginsPerSec: Math.round(logins.requests.average),
      loginP99Ms: logins.latency.p99,
      wrongPasswordAttemptsPerSec: Math.round(wrong.requests.average),
      wrongPasswordStatuses: statuses,
      healthMs: spread(health),
      loadAverage,
    };
  } finally {
    await child.stop();
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
