/**
 * `npm run bench`: the scaling benchmark of nestjs-session-revocation.
 *
 * Layout: every app under test runs in its own child process (bench/server.ts) and this
 * process only generates load (autocannon) and measures, so on a 2-core machine the load
 * generator and the server each get a core instead of sharing one event loop. PostgreSQL
 * and Redis share the same two cores.
 *
 *  1. Throughput of `GET /me`: (a) no guard, (b) @nestjs/passport + passport-jwt (signature
 *     only, string secret as in its docs: the floor; (b2) the same with a KeyObject secret),
 *     (c) this guard in strict mode, (d) this guard with its cache (single-instance defaults),
 *     (e) cached with a Redis bus, (f) SessionJwtStrategy behind AuthGuard('jwt') on (b2)'s
 *     route and key type; (a)-(d) on SQLite and on PostgreSQL, (b2), (e) and (f) on
 *     PostgreSQL only. 1,000 users, requests spread round robin.
 *     Same warm-up, duration and connections for every run; ROUNDS interleaved rounds, the
 *     median reported; the server counts the SQL statements it sends per request.
 *  2. Propagation: two instances on one PostgreSQL schema with a Redis or LISTEN/NOTIFY bus;
 *     revoke on instance 1, poll instance 2 until it answers 401.
 *  3. SQL statements and time of invalidateSessions / invalidateAllSessions for a user with
 *     10, 1,000 and 10,000 sessions.
 *  4. Cache memory: 1,000,000 distinct users through the RevocationCache.
 *  5. Sockets (bench/sockets.ts): revocation-to-disconnect on the same instance and across two
 *     instances over Redis with BENCH_SOCKETS (10,000) sockets connected, the revoking call with
 *     and without them, server heap per socket.
 *
 * Environment: BENCH_DATABASE_URL (else TEST_DATABASE_URL, DATABASE_URL, or
 * postgres://postgres@127.0.0.1:5432/test), BENCH_REDIS_URL (else TEST_REDIS_URL, REDIS_URL, or
 * redis://127.0.0.1:6379), BENCH_DURATION (seconds, default 5), BENCH_CONNECTIONS (10),
 * BENCH_ROUNDS (3), BENCH_SOCKETS (10000), BENCH_PARTS (a comma-separated subset of throughput,
 * propagation, statements, cacheMemory, sockets: the other parts are kept from the last results.json).
 * Parts whose service is unreachable are skipped and say so.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { percentile, round, type BusSpec, type DbSpec, type GuardKind, type IpcResponse, type ServerConfig } from './common.js';
import { freshPostgresSchema } from '../test/support/databases.js';
import { socketsBench, type SocketsResult } from './sockets.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..'); // dist-all/bench-build/bench -> repo
const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const WARMUP_S = 1;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const USERS = 1000; // distinct users (one session each) the load cycles through
const REVOCATIONS_PER_KIND = 150; // x2 kinds (invalidateSessions, revokeSession) per bus
const SESSION_COUNTS = [10, 1000, 10_000];
const CACHE_USERS = 1_000_000;
const CACHE_MAXES = [1_000, 10_000]; // 10,000 is the default
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000);
/** The parts to run (BENCH_PARTS=sockets,propagation ...); the others are kept from the last results.json. */
const PARTS = ['throughput', 'propagation', 'statements', 'cacheMemory', 'sockets'] as const;
const wanted = new Set((process.env.BENCH_PARTS ?? PARTS.join(',')).split(',').map((part) => part.trim()));
const want = (part: (typeof PARTS)[number]) => wanted.has(part);

const log = (message: string) => console.log(`[bench] ${message}`);

// ------------------------------------------------------------------------------------------
// Child processes
// ------------------------------------------------------------------------------------------

class Child {
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

function forkScript(script: string, arg: unknown, execArgv: string[] = []): ChildProcess {
  return fork(join(here, script), [JSON.stringify(arg)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: repoRoot });
}

/** Runs a one-shot child that answers a single `{ results }` message. */
function runOnce<T>(script: string, arg: unknown, execArgv: string[] = []): Promise<T> {
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

async function startServer(config: ServerConfig, execArgv: string[] = []): Promise<{ child: Child; port: number }> {
  const proc = forkScript('server.js', config, execArgv);
  const child = new Child(proc);
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: { ready?: number }) => {
      if (message?.ready) {
        proc.off('message', onMessage);
        resolve(message.ready);
      }
    };
    proc.on('message', onMessage);
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, port };
}

// ------------------------------------------------------------------------------------------
// Databases
// ------------------------------------------------------------------------------------------

async function postgresAvailable(): Promise<string | undefined> {
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

async function redisAvailable(): Promise<string | undefined> {
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

/** A fresh, empty database for one run; `drop()` removes it. */
async function freshDatabase(kind: 'sqlite' | 'postgres'): Promise<{ spec: DbSpec; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(os.tmpdir(), 'bench-'));
    return { spec: { kind: 'sqlite', file: join(dir, 'bench.sqlite') }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const { schema, drop } = await freshPostgresSchema(POSTGRES_URL, 'bench');
  return { spec: { kind: 'postgres', url: POSTGRES_URL, schema }, drop };
}

// ------------------------------------------------------------------------------------------
// HTTP
// ------------------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function getStatus(port: number, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/me', method: 'GET', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

// ------------------------------------------------------------------------------------------
// 1. Throughput
// ------------------------------------------------------------------------------------------

interface Measurement {
  requestsPerSec: number;
  totalRequests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyAvgMs: number;
  /** SQL statements the server sent per request during the measured run. */
  sqlPerRequest: number;
  non2xx: number;
  errors: number;
  /** 1-minute load average of the machine when the run started (other work on the box). */
  loadAverage: number;
}

interface ThroughputRow extends Measurement {
  db: 'sqlite' | 'postgres';
  guard: GuardKind;
  label: string;
  /** The run with the median requests/s is reported; every round is kept here. */
  rounds: Measurement[];
  /** requests/s over (b) (passport-jwt, string secret: the floor) of the same database and run. */
  ratioToPassport?: number;
  /** requests/s over (b2) (passport-jwt, KeyObject secret), where (b2) ran (PostgreSQL). */
  ratioToPassportKeyObject?: number;
}

const GUARD_LABELS: Record<GuardKind, string> = {
  none: '(a) no guard',
  passport: '(b) passport-jwt, string secret (the floor)',
  'passport-keyobject': '(b2) passport-jwt, KeyObject secret',
  strict: '(c) this guard, strict (cache: false)',
  cached: "(d) this guard, cached (defaults: ttl '5s')",
  'cached-bus': "(e) this guard, cached + Redis bus (ttl '60s')",
  'session-strategy': "(f) SessionJwtStrategy via AuthGuard('jwt'), cached (b2's route and key type)",
};

/** Every request takes the next of `tokens` (one shared counter): users are spread evenly. */
function cannon(port: number, tokens: string[], limit: { duration: number } | { amount: number }): Promise<autocannon.Result> {
  const headers = tokens.map((token) => ({ authorization: `Bearer ${token}` }));
  let next = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    ...limit,
    requests: [
      {
        method: 'GET',
        path: '/me',
        setupRequest: (request) => {
          request.headers = headers[next];
          next = (next + 1) % headers.length;
          return request;
        },
      },
    ],
  });
}

async function waitForBus(...children: Child[]): Promise<void> {
  for (let i = 0; ; i++) {
    const statuses = await Promise.all(children.map((c) => c.call('status')));
    if (statuses.every((s) => !s.bypassed)) return;
    if (i > 200) throw new Error('the bus did not come up');
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface ThroughputServer {
  db: 'sqlite' | 'postgres';
  guard: GuardKind;
  child: Child;
  port: number;
  tokens: string[];
  drop(): Promise<void>;
}

async function startThroughputServer(db: 'sqlite' | 'postgres', guard: GuardKind): Promise<ThroughputServer> {
  const database = await freshDatabase(db);
  const bus: BusSpec | undefined = guard === 'cached-bus' ? { kind: 'redis', url: REDIS_URL, channel: `bench_${randomBytes(4).toString('hex')}` } : undefined;
  const { child, port } = await startServer({ guard, db: database.spec, synchronize: true, bus });
  if (bus) await waitForBus(child);
  const seeded: Array<{ token: string }> = await child.call('seed', { count: USERS, prefix: `tp-${guard}` });
  const tokens = seeded.map((s) => s.token);
  const sanity = await getStatus(port, tokens[0]);
  if (sanity !== 200) throw new Error(`${db}/${guard}: GET /me answered ${sanity}`);
  return { db, guard, child, port, tokens, drop: () => database.drop() };
}

/** Warm-up (first round: one pass over every user first), then the measured run. */
async function measure(server: ThroughputServer, firstRound: boolean): Promise<Measurement> {
  if (firstRound) await cannon(server.port, server.tokens, { amount: USERS });
  await cannon(server.port, server.tokens, { duration: WARMUP_S });
  const loadAverage = round(os.loadavg()[0]);
  const statementsBefore: number = await server.child.call('statements');
  const result = await cannon(server.port, server.tokens, { duration: DURATION_S });
  const statements = (await server.child.call<number>('statements')) - statementsBefore;
  return {
    requestsPerSec: round(result.requests.average, 0),
    totalRequests: result.requests.total,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyAvgMs: round(result.latency.average),
    sqlPerRequest: round(statements / Math.max(result.requests.total, 1), 3),
    non2xx: result.non2xx,
    errors: result.errors,
    loadAverage,
  };
}

/**
 * All configurations of one database are started side by side, then measured in ROUNDS
 * interleaved rounds (a b b2 c d e, a b b2 c d e, ...), so that a burst of other work on
 * the machine hits every configuration alike; the median round is reported.
 */
async function throughput(db: 'sqlite' | 'postgres', guards: GuardKind[]): Promise<ThroughputRow[]> {
  const servers: ThroughputServer[] = [];
  try {
    for (const guard of guards) servers.push(await startThroughputServer(db, guard));
    const rounds = new Map<GuardKind, Measurement[]>(guards.map((g) => [g, []]));
    for (let r = 1; r <= ROUNDS; r++) {
      for (const server of servers) {
        log(`throughput ${db} ${server.guard}, round ${r}/${ROUNDS}`);
        rounds.get(server.guard)!.push(await measure(server, r === 1));
      }
    }
    return guards.map((guard) => {
      const all = rounds.get(guard)!;
      const median = [...all].sort((x, y) => x.requestsPerSec - y.requestsPerSec)[Math.floor(all.length / 2)];
      return { db, guard, label: GUARD_LABELS[guard], ...median, rounds: all };
    });
  } finally {
    for (const server of servers) {
      await server.child.stop();
      await server.drop();
    }
  }
}

// ------------------------------------------------------------------------------------------
// 2. Propagation
// ------------------------------------------------------------------------------------------

interface PropagationResult {
  bus: 'redis' | 'postgresNotify';
  revocations: number;
  /** From the revoking call's return (on instance 1) to instance 2's first 401 response. */
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /** Requests instance 2 still answered 200 after the revoking call had returned. */
  staleAnswers: number;
  revocationsWithStaleAnswer: number;
  timeouts: number;
  /** Duration of the revoking call itself (invalidateSessions / revokeSession), IPC included. */
  revokeCallP50Ms: number;
  revokeCallP99Ms: number;
  byKind: Record<string, { p50: number; p99: number; max: number }>;
}

async function propagation(bus: 'redis' | 'postgresNotify'): Promise<PropagationResult> {
  const database = await freshDatabase('postgres');
  const channel = `bench_${randomBytes(4).toString('hex')}`;
  const busSpec: BusSpec = bus === 'redis' ? { kind: 'redis', url: REDIS_URL, channel } : { kind: 'postgres', channel };
  const one = await startServer({ guard: 'cached-bus', db: database.spec, synchronize: true, bus: busSpec });
  const two = await startServer({ guard: 'cached-bus', db: database.spec, synchronize: false, bus: busSpec });
  try {
    await waitForBus(one.child, two.child);
    const seeded: Array<{ userId: number; sessionId: string; token: string }> = await one.child.call('seed', {
      count: REVOCATIONS_PER_KIND * 2,
      prefix: `prop-${bus}`,
    });
    const delays: number[] = [];
    const calls: number[] = [];
    const byKind: Record<string, number[]> = { invalidateSessions: [], revokeSession: [] };
    let staleAnswers = 0;
    let revocationsWithStaleAnswer = 0;
    let timeouts = 0;
    for (let i = 0; i < seeded.length; i++) {
      const { userId, sessionId, token } = seeded[i];
      const kind = i % 2 === 0 ? 'invalidateSessions' : 'revokeSession';
      // Instance 2 loads the session into its cache (and serves it from there).
      if ((await getStatus(two.port, token)) !== 200 || (await getStatus(two.port, token)) !== 200) throw new Error('not accepted before revocation');
      const called = performance.now();
      await one.child.call(kind, { userId, sessionId });
      const returned = performance.now();
      calls.push(returned - called);
      let stale = 0;
      for (;;) {
        const status = await getStatus(two.port, token);
        const now = performance.now();
        if (status === 401) {
          delays.push(now - returned);
          byKind[kind].push(now - returned);
          break;
        }
        if (status !== 200) throw new Error(`instance 2 answered ${status}`);
        stale++;
        if (now - returned > 5000) {
          timeouts++;
          break;
        }
      }
      staleAnswers += stale;
      if (stale > 0) revocationsWithStaleAnswer++;
    }
    const sorted = [...delays].sort((x, y) => x - y);
    const sortedCalls = [...calls].sort((x, y) => x - y);
    const kindStats = Object.fromEntries(
      Object.entries(byKind).map(([k, v]) => {
        const s = [...v].sort((x, y) => x - y);
        return [k, { p50: round(percentile(s, 50)), p99: round(percentile(s, 99)), max: round(s[s.length - 1]) }];
      }),
    );
    return {
      bus,
      revocations: seeded.length,
      delayP50Ms: round(percentile(sorted, 50)),
      delayP99Ms: round(percentile(sorted, 99)),
      delayMaxMs: round(sorted[sorted.length - 1]),
      staleAnswers,
      revocationsWithStaleAnswer,
      timeouts,
      revokeCallP50Ms: round(percentile(sortedCalls, 50)),
      revokeCallP99Ms: round(percentile(sortedCalls, 99)),
      byKind: kindStats,
    };
  } finally {
    await one.child.stop();
    await two.child.stop();
    await database.drop();
  }
}

// ------------------------------------------------------------------------------------------
// Output
// ------------------------------------------------------------------------------------------

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const [postgresVersion, redisVersion] = await Promise.all([postgresAvailable(), redisAvailable()]);
  if (!postgresVersion) log(`PostgreSQL at ${POSTGRES_URL} unreachable: PostgreSQL parts SKIPPED`);
  if (!redisVersion) log(`Redis at ${REDIS_URL} unreachable: Redis propagation SKIPPED`);
  const dbs: Array<'sqlite' | 'postgres'> = postgresVersion ? ['sqlite', 'postgres'] : ['sqlite'];
  const skipped: string[] = [];
  if (!postgresVersion) skipped.push('PostgreSQL throughput, propagation, statements');
  if (!redisVersion) skipped.push('Redis propagation');

  const partSeconds: Record<string, number> = {};
  let partStart = performance.now();
  const endPart = (name: string) => {
    partSeconds[name] = round((performance.now() - partStart) / 1000, 1);
    partStart = performance.now();
  };

  // 1. Throughput
  const rows: ThroughputRow[] = [];
  const guards: GuardKind[] = ['none', 'passport', 'passport-keyobject', 'strict', 'cached', 'session-strategy'];
  if (redisVersion) guards.push('cached-bus');
  // (b2), (e) and (f) only on PostgreSQL (the multi-instance setup; (b2) does not touch the
  // database at all, (f) is compared with it), to keep the whole run near 5 minutes.
  const postgresOnly: GuardKind[] = ['passport-keyobject', 'cached-bus', 'session-strategy'];
  for (const db of want('throughput') ? dbs : []) {
    rows.push(...(await throughput(db, db === 'postgres' ? guards : guards.filter((g) => !postgresOnly.includes(g)))));
  }
  for (const row of rows) {
    const floor = rows.find((r) => r.db === row.db && r.guard === 'passport');
    if (floor) row.ratioToPassport = round(row.requestsPerSec / floor.requestsPerSec);
    const keyObject = rows.find((r) => r.db === row.db && r.guard === 'passport-keyobject');
    if (keyObject) row.ratioToPassportKeyObject = round(row.requestsPerSec / keyObject.requestsPerSec);
  }
  endPart('throughput');

  // 2. Propagation
  const propagationResults: PropagationResult[] = [];
  if (postgresVersion && want('propagation')) {
    for (const bus of redisVersion ? (['redis', 'postgresNotify'] as const) : (['postgresNotify'] as const)) {
      log(`propagation over ${bus}: ${REVOCATIONS_PER_KIND * 2} revocations`);
      propagationResults.push(await propagation(bus));
    }
  }
  endPart('propagation');

  // 3. Statements
  const statements: Array<{ db: string; results: any[] }> = [];
  for (const db of want('statements') ? dbs : []) {
    log(`statements ${db}: users with ${SESSION_COUNTS.join(' / ')} sessions`);
    const database = await freshDatabase(db);
    try {
      statements.push({ db, results: await runOnce<any[]>('statements.js', { db: database.spec, sizes: SESSION_COUNTS }) });
    } finally {
      await database.drop();
    }
  }
  endPart('statements');

  // 4. Cache memory
  let memory: any[] = [];
  if (want('cacheMemory')) {
    log(`cache memory: ${CACHE_USERS.toLocaleString('en')} distinct users`);
    memory = await runOnce<any[]>('cache-memory.js', { users: CACHE_USERS, maxes: CACHE_MAXES }, ['--expose-gc']);
  }
  endPart('cacheMemory');

  // 5. Sockets
  let sockets: SocketsResult | null = null;
  if (want('sockets') && postgresVersion && redisVersion) {
    log(`sockets: ${SOCKETS.toLocaleString('en')} sockets on one instance`);
    sockets = await socketsBench({ startServer, freshDatabase, waitForBus, runOnce, redisUrl: REDIS_URL, log }, SOCKETS);
  } else if (want('sockets')) skipped.push('sockets (needs PostgreSQL and Redis)');
  endPart('sockets');

  const totalSeconds = round((performance.now() - started) / 1000, 1);
  const cpus = os.cpus();
  const results = {
    date: new Date().toISOString(),
    machine: {
      cpuModel: cpus[0]?.model,
      cores: cpus.length,
      memoryGB: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: postgresVersion ?? null,
      redis: redisVersion ?? null,
    },
    settings: {
      layout: 'each server in its own child process; autocannon in the parent process',
      connections: CONNECTIONS,
      warmup: `${WARMUP_S} s before every measured run (in the first round preceded by one pass over every user)`,
      rounds: ROUNDS,
      reported: 'the round with the median requests/s',
      durationSeconds: DURATION_S,
      distinctUsers: USERS,
      tokenOrder: 'round robin over the distinct users (one shared counter)',
      httpAdapter: 'express',
      revocationsPerBus: REVOCATIONS_PER_KIND * 2,
    },
    throughput: rows,
    propagation: propagationResults,
    statements,
    cacheMemory: memory,
    sockets,
    partsRun: PARTS.filter(want),
    skipped,
    partSeconds,
    totalSeconds,
  };
  const resultsFile = join(repoRoot, 'bench', 'results.json');
  if (PARTS.some((part) => !want(part))) {
    // A partial run: the parts not run keep their figures (and their run's date) from the last file.
    const previous = JSON.parse(readFileSync(resultsFile, 'utf8'));
    for (const part of PARTS.filter((p) => !want(p))) (results as Record<string, unknown>)[part] = previous[part] ?? null;
    (results as Record<string, unknown>).keptFrom = { date: previous.keptFrom?.date ?? previous.date, parts: PARTS.filter((p) => !want(p)) };
  }
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);

  if (rows.length) console.log('\n## Throughput: GET /me\n');
  if (rows.length) console.log(
    table(
      ['db', 'guard', 'req/s', 'p50 ms', 'p99 ms', 'x (b)', 'x (b2)', 'SQL/req', 'non-2xx'],
      rows.map((r) => [
        r.db,
        r.label,
        r.requestsPerSec,
        r.latencyP50Ms,
        r.latencyP99Ms,
        r.ratioToPassport ?? '',
        r.ratioToPassportKeyObject ?? '',
        r.sqlPerRequest,
        r.non2xx + r.errors,
      ]),
    ),
  );
  if (propagationResults.length) {
    console.log('\n## Propagation to a second instance (PostgreSQL)\n');
    console.log(
      table(
        ['bus', 'revocations', 'p50 ms', 'p99 ms', 'max ms', 'stale 200s after return', 'revoking call p50 / p99 ms'],
        propagationResults.map((p) => [
          p.bus,
          p.revocations,
          p.delayP50Ms,
          p.delayP99Ms,
          p.delayMaxMs,
          `${p.staleAnswers} (in ${p.revocationsWithStaleAnswer})`,
          `${p.revokeCallP50Ms} / ${p.revokeCallP99Ms}`,
        ]),
      ),
    );
  }
  if (statements.length) console.log('\n## Statements per call\n');
  if (statements.length) console.log(
    table(
      ['db', 'sessions', 'invalidateSessions stmts', 'ms', 'invalidateAllSessions stmts', 'ms'],
      statements.flatMap((s) =>
        s.results.map((r) => [s.db, r.sessions, r.invalidateSessions.statements, r.invalidateSessions.ms, r.invalidateAllSessions.statements, r.invalidateAllSessions.ms]),
      ),
    ),
  );
  if (memory.length) console.log('\n## Cache memory\n');
  if (memory.length) console.log(
    table(
      ['configured max', 'users fed', 'entries held', 'peak entries', 'cache heap MB', 'bytes/entry', 'ns/user'],
      memory.map((m) => [m.configuredMax, m.usersFed, m.entriesHeld, m.peakEntries, m.cacheHeapMB, m.bytesPerEntry, m.nsPerUser]),
    ),
  );
  if (sockets) {
    console.log('\n## Sockets: revocation to disconnect (PostgreSQL + Redis)\n');
    console.log(
      table(
        [
          'sockets on instance 1 / 2',
          'same instance p50 / p99 ms',
          'other instance p50 / p99 ms',
          'revoking call p50 / p99 ms: 0 sockets',
          `${sockets.socketsInstance1} sockets, revoked one here`,
          'revoked one elsewhere',
          'heap / socket',
          'timeouts',
        ],
        [
          [
            `${sockets.socketsInstance1} / ${sockets.socketsInstance2}`,
            `${sockets.sameInstanceP50Ms} / ${sockets.sameInstanceP99Ms}`,
            `${sockets.crossInstanceP50Ms} / ${sockets.crossInstanceP99Ms}`,
            `${sockets.revokeCallNoSocketsP50Ms} / ${sockets.revokeCallNoSocketsP99Ms}`,
            `${sockets.revokeCallWithSocketsP50Ms} / ${sockets.revokeCallWithSocketsP99Ms}`,
            `${sockets.revokeCallSocketElsewhereP50Ms} / ${sockets.revokeCallSocketElsewhereP99Ms}`,
            `${(sockets.heapBytesPerSocket / 1024).toFixed(1)} KiB`,
            sockets.timeouts,
          ],
        ],
      ),
    );
    console.log('\nThe registry alone:\n');
    console.log(
      table(
        ['connections', 'bytes / entry', 'listener µs p50 / p99: user', 'session'],
        sockets.registry.map((r) => [r.connections, r.bytesPerConnection, `${r.listenerMicros.user.p50} / ${r.listenerMicros.user.p99}`, `${r.listenerMicros.session.p50} / ${r.listenerMicros.session.p99}`]),
      ),
    );
  }
  console.log(`\nmachine: ${results.machine.cpuModel} x${results.machine.cores}, ${results.machine.memoryGB} GB, node ${process.version}, PostgreSQL ${postgresVersion ?? '-'}, Redis ${redisVersion ?? '-'}`);
  console.log(`wrote ${resultsFile} (${totalSeconds} s)`);
  agent.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
