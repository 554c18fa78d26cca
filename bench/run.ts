/**
 * `npm run bench`: the benchmark of nestjs-session-revocation (full run under 15 minutes;
 * `npm run bench -- --quick`, under 2 minutes, for developers).
 *
 * Every app under test runs in its own child process (bench/server.ts, bench/sample-server.ts)
 * and this process only generates load (autocannon) and measures, so on a 2-core machine the
 * load generator and a server each get a core. PostgreSQL and Redis share the same cores.
 *
 *  1. Throughput of `GET /me` at N = 1,000 / 50,000 / 200,000 distinct users (one session each,
 *     seeded in bulk, tokens round robin), every configuration against B = @nestjs/passport +
 *     passport-jwt with a KeyObject secret, side by side in interleaved rounds; SQL statements
 *     per request (with their text), the cache's entries and the server's heap at each N.
 *  2. Revocation under load: two instances on PostgreSQL with a Redis or LISTEN/NOTIFY bus.
 *  3. Logins and refreshes: the library's issue()/refresh(); the sample's POST /auth/login, and
 *     GET /health while 50 clients send wrong passwords.
 *  4. SQL statements and time of invalidateSessions / invalidateAllSessions for a user with
 *     10, 1,000 and 10,000 sessions.
 *  5. Cache memory: bytes per entry of the RevocationCache at its default size.
 *  6. Sockets (bench/sockets.ts): revocation-to-disconnect on the same instance and across two
 *     instances over Redis with BENCH_SOCKETS (10,000) sockets connected, the revoking call with
 *     and without them, server heap per socket.
 *
 * Flags: --quick; --parts=throughput,revocation,logins,statements,memory,sockets (or
 * BENCH_PARTS; default all: a partial run keeps the other parts from the last results.json);
 * --users=1000,50000 (N values). Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL,
 * BENCH_DURATION (s, default 5), BENCH_ROUNDS (3; 5 at N = 1,000 unless set), BENCH_CONNECTIONS (10), BENCH_SOCKETS (10000).
 * Parts whose service is unreachable are skipped and say so.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { round, type GuardKind } from './common.js';
import { freshDatabase, here, log, postgresAvailable, REDIS_URL, redisAvailable, repoRoot, runOnce, startChild, waitForBus, type DbKind } from './harness.js';
import { socketsBench, type SocketsResult } from './sockets.js';
import { libraryLogins, sampleLogins, type LibraryLogins, type SampleLogins } from './logins.js';
import { revocationUnderLoad, type RevocationUnderLoad } from './revocation-load.js';
import { LABELS, throughput, type Config, type ThroughputRow } from './throughput.js';
import { DEFAULT_CACHE_MAX } from '../lib/session-revocation-options.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const QUICK = args.includes('--quick');
const ALL_PARTS = ['throughput', 'revocation', 'logins', 'statements', 'memory', 'sockets'];
const PARTS = (flag('parts') ?? process.env.BENCH_PARTS ?? (QUICK ? 'throughput' : ALL_PARTS.join(','))).split(',').map((p) => p.trim());
/** Where each part's figures live in results.json. */
const RESULT_KEYS: Record<string, string[]> = {
  throughput: ['throughput', 'readSessionStateSql', 'seedingMs'],
  revocation: ['revocationUnderLoad'],
  logins: ['logins'],
  statements: ['statements'],
  memory: ['cacheMemory'],
  sockets: ['sockets'],
};
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000);
const USERS = (flag('users') ?? (QUICK ? '1000,50000' : '1000,50000,200000')).split(',').map(Number);
const DURATION_S = Number(process.env.BENCH_DURATION ?? (QUICK ? 3 : 5));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
/** At N = 1,000 (the hit path, where configurations differ least) two rounds more. */
const roundsAt = (users: number) => (users <= 1000 && !QUICK && !process.env.BENCH_ROUNDS ? ROUNDS + 2 : ROUNDS);
const REVOCATIONS = 100;
const SESSION_COUNTS = [10, 1000, 10_000];

const c = (db: DbKind, guard: GuardKind): Config => ({ db, guard });

/** The configurations measured at each N (the stateless rows do not depend on N: only at the smallest). */
function configsFor(users: number, postgres: boolean, redis: boolean): Config[] {
  if (!postgres) return [c('sqlite', 'passport-keyobject'), c('sqlite', 'cached'), c('sqlite', 'strict')];
  if (QUICK) return [c('postgres', 'passport-keyobject'), c('postgres', 'cached'), c('postgres', 'strict'), c('sqlite', 'cached')];
  const bus: Config[] = redis ? [c('postgres', 'cached-bus')] : [];
  if (users <= 1000) {
    return [
      c('postgres', 'none'),
      c('postgres', 'passport'),
      c('postgres', 'passport-keyobject'),
      c('postgres', 'cached'),
      c('postgres', 'session-strategy'),
      ...bus,
      c('postgres', 'strict'),
      c('sqlite', 'cached'),
      c('sqlite', 'strict'),
    ];
  }
  return [c('postgres', 'passport-keyobject'), c('postgres', 'cached'), ...bus, c('postgres', 'strict'), c('sqlite', 'cached')];
}

function table(headers: string[], rows: Array<Array<string | number>>): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const [postgresVersion, redisVersion] = await Promise.all([postgresAvailable(), redisAvailable()]);
  const skipped: string[] = [];
  if (!postgresVersion) skipped.push('PostgreSQL rows, revocation under load, PostgreSQL logins and statements');
  if (!redisVersion) skipped.push('Redis rows and the Redis bus');
  for (const s of skipped) log(`SKIPPED: ${s} (service unreachable)`);
  const dbs: DbKind[] = postgresVersion ? ['sqlite', 'postgres'] : ['sqlite'];
  const partSeconds: Record<string, number> = {};
  const timed = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await run();
    } finally {
      partSeconds[name] = round((performance.now() - start) / 1000, 1);
    }
  };

  const throughputRows: ThroughputRow[] = [];
  const seeding: Record<string, Record<string, number>> = {};
  let stateSql: string | undefined;
  if (PARTS.includes('throughput')) {
    await timed('throughput', async () => {
      for (const users of USERS) {
        const result = await throughput(users, configsFor(users, !!postgresVersion, !!redisVersion), { rounds: roundsAt(users), durationS: DURATION_S, warmupS: 1, redis: !!redisVersion });
        throughputRows.push(...result.rows);
        seeding[users] = result.seedMs;
        stateSql ??= result.stateSql;
      }
    });
  }

  const revocations: RevocationUnderLoad[] = [];
  if (PARTS.includes('revocation') && postgresVersion) {
    await timed('revocation', async () => {
      for (const bus of redisVersion ? (['redis', 'postgresNotify'] as const) : (['postgresNotify'] as const)) {
        log(`revocation under load over ${bus}: ${REVOCATIONS} revocations`);
        revocations.push(await revocationUnderLoad(bus, REVOCATIONS, 10));
      }
    });
  }

  const libraryLoginRows: LibraryLogins[] = [];
  const sampleLoginRows: SampleLogins[] = [];
  if (PARTS.includes('logins')) {
    cpSync(join(repoRoot, 'sample', 'web', 'public'), join(here, '..', 'sample', 'web', 'public'), { recursive: true });
    await timed('logins', async () => {
      for (const db of dbs) {
        log(`logins and refreshes on ${db}`);
        libraryLoginRows.push(await libraryLogins(db, 1000));
        sampleLoginRows.push(await sampleLogins(db, 50, DURATION_S));
      }
    });
  }

  const statements: Array<{ db: string; results: any[] }> = [];
  if (PARTS.includes('statements')) {
    await timed('statements', async () => {
      for (const db of dbs) {
        log(`statements ${db}: users with ${SESSION_COUNTS.join(' / ')} sessions`);
        const database = await freshDatabase(db);
        try {
          statements.push({ db, results: await runOnce<any[]>('statements.js', { db: database.spec, sizes: SESSION_COUNTS }) });
        } finally {
          await database.drop();
        }
      }
    });
  }

  let memory: any[] = [];
  if (PARTS.includes('memory')) {
    log(`cache memory at the default max (${DEFAULT_CACHE_MAX.toLocaleString('en')})`);
    memory = await timed('memory', () => runOnce<any[]>('cache-memory.js', { maxes: [DEFAULT_CACHE_MAX] }, ['--expose-gc']));
  }

  let sockets: SocketsResult | null = null;
  if (PARTS.includes('sockets') && postgresVersion && redisVersion) {
    log(`sockets: ${SOCKETS.toLocaleString('en')} sockets on one instance`);
    const startServer = (config: import('./common.js').ServerConfig, execArgv?: string[]) => startChild('server.js', config, undefined, execArgv);
    sockets = await timed('sockets', () => socketsBench({ startServer, freshDatabase, waitForBus, runOnce, redisUrl: REDIS_URL, log }, SOCKETS));
  } else if (PARTS.includes('sockets')) skipped.push('sockets (needs PostgreSQL and Redis)');

  const totalSeconds = round((performance.now() - started) / 1000, 1);
  const cpus = os.cpus();
  const results = {
    date: new Date().toISOString(),
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    machine: {
      cpuModel: cpus[0]?.model,
      cores: cpus.length,
      memoryGB: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: postgresVersion ?? null,
      redis: redisVersion ?? null,
      loadAverageAtStart: round(os.loadavg()[0]),
    },
    settings: { connections: Number(process.env.BENCH_CONNECTIONS ?? 10), durationSeconds: DURATION_S, warmupSeconds: 1, rounds: ROUNDS, roundsAtSmallestN: roundsAt(Math.min(...USERS)), reported: 'ratio to B: the median of the rounds\' ratios (each round against B\'s round); req/s, latency, SQL: the round with the median requests/s', users: USERS, defaultCacheMax: DEFAULT_CACHE_MAX },
    throughput: throughputRows,
    readSessionStateSql: stateSql,
    seedingMs: seeding,
    revocationUnderLoad: revocations,
    logins: { library: libraryLoginRows, sample: sampleLoginRows },
    statements,
    cacheMemory: memory,
    sockets,
    partsRun: PARTS,
    skipped,
    partSeconds,
    totalSeconds,
  };
  const resultsFile = join(repoRoot, 'bench', QUICK ? 'results-quick.json' : 'results.json');
  const notRun = ALL_PARTS.filter((part) => !PARTS.includes(part));
  if (!QUICK && notRun.length > 0 && existsSync(resultsFile)) {
    // A partial run: the parts not run keep their figures (and their run's date) from the last file.
    const previous = JSON.parse(readFileSync(resultsFile, 'utf8'));
    for (const key of notRun.flatMap((part) => RESULT_KEYS[part])) (results as Record<string, unknown>)[key] = previous[key] ?? null;
    (results as Record<string, unknown>).keptFrom = { date: previous.keptFrom?.date ?? previous.date, parts: notRun };
  }
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  print(results, throughputRows, revocations, libraryLoginRows, sampleLoginRows, statements, memory, sockets);
  console.log(`\nwrote ${resultsFile} (${totalSeconds} s; parts ${JSON.stringify(partSeconds)})`);
}

function print(
  results: { machine: Record<string, unknown>; readSessionStateSql?: string },
  rows: ThroughputRow[],
  revocations: RevocationUnderLoad[],
  library: LibraryLogins[],
  sample: SampleLogins[],
  statements: Array<{ db: string; results: any[] }>,
  memory: any[],
  sockets: SocketsResult | null,
): void {
  if (rows.length) {
    const users = [...new Set(rows.map((r) => r.users))];
    const keys = [...new Map(rows.map((r) => [`${r.db}/${r.guard}`, r])).values()];
    console.log('\n## Throughput: GET /me, × B: median of the rounds [lowest–highest round] (req/s, p99 ms, SQL/req of the median round)\n');
    console.log(
      table(
        ['db', 'configuration', ...users.map((n) => `N = ${n.toLocaleString('en')}`)],
        keys.map((k) => [
          k.guard.startsWith('passport') || k.guard === 'none' ? '' : k.db,
          LABELS[k.guard],
          ...users.map((n) => {
            const r = rows.find((x) => x.users === n && x.db === k.db && x.guard === k.guard);
            const spread = r?.ratiosToB && r.guard !== 'passport-keyobject' ? ` [${Math.min(...r.ratiosToB)}–${Math.max(...r.ratiosToB)}]` : '';
            return r ? `${r.ratioToB ?? '-'}${spread} (${r.requestsPerSec}, ${r.latencyP99Ms}, ${r.sqlPerRequest})${r.non2xx + r.errors ? ` ${r.non2xx + r.errors} non-2xx!` : ''}` : '';
          }),
        ]),
      ),
    );
    const cached = rows.filter((r) => r.cacheEntries !== undefined);
    console.log('\n## Cache entries and server heap (MB) after the rounds; PostgreSQL server CPU per request (median round)\n');
    console.log(table(['N', 'configuration', 'cache entries', 'heap MB', 'PostgreSQL CPU µs/req'], cached.map((r) => [r.users, `${r.db} ${LABELS[r.guard]}`, r.cacheEntries!, r.heapMB!, r.postgresCpuMicrosPerRequest ?? ''])));
    if (results.readSessionStateSql) console.log(`\nthe one statement of a miss / a strict request:\n${results.readSessionStateSql}`);
  }
  if (revocations.length) {
    console.log('\n## Revocation under load (2 instances, PostgreSQL)\n');
    console.log(
      table(
        ['bus', 'revocations', 'load req/s', 'last stale 200 after return p50 / p99 / max ms', '200s to requests sent after return', 'revoking call p50 / p99 / max ms', 'store write p99', 'bus publish p99', 'event-loop delay p99 / max', 'no load: call p50 / p99, write p99, publish p99'],
        revocations.map((r) => [
          r.bus,
          r.revocations,
          r.backgroundRequestsPerSec,
          `${r.lastStaleMs.p50} / ${r.lastStaleMs.p99} / ${r.lastStaleMs.max}`,
          r.staleAfterReturn,
          `${r.revokeCallMs.p50} / ${r.revokeCallMs.p99} / ${r.revokeCallMs.max}`,
          r.storeWriteMs.p99,
          r.busPublishMs.p99,
          r.eventLoopDelayMs ? `${r.eventLoopDelayMs.p99} / ${r.eventLoopDelayMs.max}` : '',
          r.idle ? `${r.idle.revokeCallMs.p50} / ${r.idle.revokeCallMs.p99}, ${r.idle.storeWriteMs.p99}, ${r.idle.busPublishMs.p99}` : '',
        ]),
      ),
    );
  }
  if (library.length) {
    console.log('\n## Logins and refreshes\n');
    console.log(table(['db', 'issue() /s', 'refresh() /s', 'SQL per refresh'], library.map((r) => [r.db, r.loginsPerSec, r.refreshesPerSec, r.statementsPerRefresh])));
    console.log(
      table(
        ['db', 'sample POST /auth/login /s', 'p99 ms', 'wrong-password attempts/s (50 clients)', 'GET /health p50 / p99 / max ms meanwhile'],
        sample.map((r) => [r.db, r.loginsPerSec, r.loginP99Ms, r.wrongPasswordAttemptsPerSec, `${r.healthMs.p50} / ${r.healthMs.p99} / ${r.healthMs.max}`]),
      ),
    );
  }
  if (statements.length) {
    console.log('\n## Statements per call\n');
    console.log(
      table(
        ['db', 'sessions', 'invalidateSessions stmts', 'ms', 'invalidateAllSessions stmts', 'ms'],
        statements.flatMap((s) => s.results.map((r) => [s.db, r.sessions, r.invalidateSessions.statements, r.invalidateSessions.ms, r.invalidateAllSessions.statements, r.invalidateAllSessions.ms])),
      ),
    );
  }
  if (memory.length) {
    console.log('\n## Cache memory\n');
    console.log(table(['max', 'users fed', 'entries held', 'token length', 'cache heap MB', 'bytes/entry'], memory.map((m) => [m.configuredMax, m.usersFed, m.entriesHeld, m.tokenLength, m.cacheHeapMB, m.bytesPerEntry])));
  }
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
  const m = results.machine;
  console.log(`\nmachine: ${m.cpuModel} x${m.cores}, ${m.memoryGB} GB, node ${m.node}, PostgreSQL ${m.postgres ?? '-'}, Redis ${m.redis ?? '-'}, load average at start ${m.loadAverageAtStart}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
