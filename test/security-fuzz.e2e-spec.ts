import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { testDatabases } from './support/databases.js';
import {
  b64url,
  captureLogs,
  decodePart,
  hmacJwt,
  keepAliveClient,
  percentile,
  rawHttp,
  SecretRegistry,
  type LogCapture,
  type RawResponse,
} from './support/security.js';
import { sampleUserSecrets, SECURITY_SAMPLE_SECRET, startSecuritySample, type SecuritySample } from './support/security-sample.js';

/**
 * Property-based fuzzing (fast-check) of the sample app over real HTTP with a keep-alive
 * client: generated Authorization headers, bodies, content types and ids against
 * /auth/login, /auth/refresh, /auth/logout, /auth/register, /me, PATCH /me, /sessions,
 * DELETE /sessions/:id, /auth/logout-all, /auth/password and the admin routes.
 *
 * For every request: never a 5xx, an answer within BOUND_MS, never a 2xx from a protected
 * route without a valid token, a refusal is the generic 401, and no answer echoes the token
 * sent. Each property run sends a batch of requests in parallel; the totals are asserted.
 * Seed: FUZZ_SEED (fast-check prints the seed and the shrunk counterexample on failure).
 */

const BOUND_MS = 2000;
/** JSON nesting the generators stay under (see the it.failing below for deeper bodies). */
const SAFE_NESTING = 1000;
const BATCH = 10;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** Total requests per database: SQLite always gets the full budget, PostgreSQL (CI) a lighter pass. */
const BUDGET = { sqlite: { anonymous: 4000, public: 3000, mutated: 1500, signed: 1000, authenticated: 1000, raw: 300 }, postgres: { anonymous: 800, public: 800, mutated: 300, signed: 600, authenticated: 300, raw: 100 },
  // MariaDB: the same code as PostgreSQL above the driver; a smaller run checks the dialect.
  mariadb: { anonymous: 400, public: 400, mutated: 150, signed: 300, authenticated: 150, raw: 50 },
};

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** Characters node's HTTP client lets into a header value: tab, printable ASCII, Latin-1. */
const headerChar = fc
  .oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    { weight: 1, arbitrary: fc.constant(0x09) },
  )
  .map((code) => String.fromCharCode(code));
const headerString = (maxLength: number) => fc.string({ unit: headerChar, maxLength });
const b64Segment = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64url'));
const jsonSegment = fc.jsonValue({ maxDepth: 3 }).map((v) => b64url(JSON.stringify(v) ?? 'null'));
const anyScalar = fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(''));
const jwtHeader = fc.record(
  {
    alg: fc.oneof(fc.constantFrom('none', 'None', 'NONE', 'nOnE', 'HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'PS256', 'dir', 'RSA-OAEP', ''), anyScalar),
    typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', 'jwt', 'AT+JWT'), anyScalar),
    kid: fc.oneof(fc.constantFrom('../../../../dev/null', "' OR 1=1 --", '/etc/passwd', 'http://127.0.0.1:1/k'), anyScalar),
    jku: fc.constantFrom('http://127.0.0.1:1/jwks.json', 'file:///etc/passwd'),
    x5u: fc.constantFrom('http://127.0.0.1:1/cert.pem'),
    crit: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const claims = fc.record(
  {
    sub: fc.oneof(fc.constantFrom('1', '2', '0', '-1', '2147483648', '9007199254740993', '1e3', '01'), anyScalar),
    sid: fc.oneof(fc.uuid().map(String), fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x'.repeat(37), 'x'.repeat(65)), anyScalar),
    sfp: fc.oneof(fc.base64String({ maxLength: 24 }), anyScalar),
    iat: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), anyScalar),
    exp: fc.oneof(fc.integer({ min: 0, max: 2 ** 33 }), fc.constant(Math.floor(Date.now() / 1000) + 600), anyScalar),
    nbf: fc.oneof(fc.integer({ min: 0, max: 2 ** 33 }), anyScalar),
    iss: fc.oneof(fc.constant('nestjs-session-revocation-sample'), anyScalar),
    aud: fc.oneof(fc.constant('nestjs-session-revocation-sample'), fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }), anyScalar),
  },
  { requiredKeys: [] },
);
const jwtLike = fc
  .tuple(fc.oneof(jwtHeader.map(b64url), jsonSegment, b64Segment), fc.oneof(claims.map(b64url), jsonSegment, b64Segment), fc.oneof(b64Segment, fc.constant('')))
  .map((parts) => parts.join('.'));
const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer   ', 'Bearer\t', 'Basic ', 'Token ', 'Bearer', '', ' Bearer ');
/** An Authorization header (undefined: none sent). */
const authorization: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: headerString(200) },
  { weight: 6, arbitrary: fc.tuple(scheme, jwtLike).map(([s, t]) => s + t) },
  { weight: 2, arbitrary: fc.tuple(scheme, headerString(120)).map(([s, t]) => s + t) },
  { weight: 1, arbitrary: fc.tuple(scheme, fc.array(jwtLike, { minLength: 2, maxLength: 5 })).map(([s, t]) => s + t.join('.')) },
  { weight: 1, arbitrary: fc.tuple(scheme, fc.integer({ min: 8150, max: 8250 })).map(([s, n]) => s + 'a'.repeat(n)) },
);

interface Body {
  contentType?: string;
  data?: string | Buffer;
}
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/merge-patch+json',
  undefined,
);
const fieldValue = fc.oneof(
  fc.emailAddress(),
  fc.string({ maxLength: 140 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('a@b.co', 'ADMIN@EXAMPLE.COM ', 'x'.repeat(129), 'x'.repeat(600), '\u0000', 'a\u0000@b.co', "' OR 1=1 --", '{"$ne":null}'),
  fc.jsonValue({ maxDepth: 2 }),
);
const fields = fc.record(
  {
    email: fieldValue,
    password: fieldValue,
    currentPassword: fieldValue,
    newPassword: fieldValue,
    refreshToken: fc.oneof(fieldValue, b64Segment),
    keepCurrent: fc.oneof(fc.boolean(), anyScalar),
    role: fc.constant('admin'),
    id: fc.oneof(fc.integer(), anyScalar),
  },
  { requiredKeys: [] },
);
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 5, arbitrary: fc.tuple(contentType, fields).map(([ct, f]) => ({ contentType: ct ?? 'application/json', data: JSON.stringify(f) })) },
  { weight: 2, arbitrary: fc.tuple(contentType, fc.jsonValue()).map(([ct, v]) => ({ contentType: ct, data: JSON.stringify(v) ?? 'null' })) },
  { weight: 2, arbitrary: fc.tuple(contentType, fc.string({ unit: 'binary', maxLength: 300 })).map(([ct, s]) => ({ contentType: ct, data: s })) },
  { weight: 1, arbitrary: fc.tuple(contentType, fc.uint8Array({ maxLength: 300 })).map(([ct, b]) => ({ contentType: ct, data: Buffer.from(b) })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"role":"admin"},"email":"a@b.co","password":"password-1"}',
      '{"constructor":{"prototype":{"role":"admin"}},"refreshToken":"x"}',
      '{"email":"a@b.co","email":"b@c.co","password":"password-1"}',
      '{"refreshToken":"\\u0000"}',
      '{"email":"a@b.co\\u0000","password":"\\u0000"}',
    ).map((data) => ({ contentType: 'application/json', data })),
  },
  // Nesting stays below what class-transformer survives: deeper bodies are the sample bug below.
  { weight: 1, arbitrary: fc.integer({ min: 1, max: SAFE_NESTING }).map((n) => ({ contentType: 'application/json', data: '['.repeat(n) + ']'.repeat(n) })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: SAFE_NESTING }).map((n) => ({ contentType: 'application/json', data: '{"email":'.repeat(n) + '1' + '}'.repeat(n) })) },
  { weight: 1, arbitrary: fc.integer({ min: 90, max: 120 }).map((kb) => ({ contentType: 'application/json', data: JSON.stringify({ email: 'x'.repeat(kb * 1024) }) })) },
);

type Route = { method: string; path: string; protected: boolean };
const PROTECTED: Route[] = [
  { method: 'GET', path: '/me', protected: true },
  { method: 'PATCH', path: '/me', protected: true },
  { method: 'GET', path: '/sessions', protected: true },
  { method: 'POST', path: '/auth/logout-all', protected: true },
  { method: 'POST', path: '/auth/password', protected: true },
];
const pathId = fc.oneof(fc.uuid().map(String), fc.string({ maxLength: 60 }), fc.constantFrom('1', '0', '-1', '99999999999', '..%2f..', '%00', '1e3'));
const protectedRoute: fc.Arbitrary<Route> = fc.oneof(
  fc.constantFrom(...PROTECTED),
  pathId.map((id) => ({ method: 'DELETE', path: `/sessions/${encodeURIComponent(id)}`, protected: true })),
  fc
    .tuple(pathId, fc.constantFrom('block', 'unblock', 'revoke-sessions'))
    .map(([id, action]) => ({ method: 'POST', path: `/admin/users/${encodeURIComponent(id)}/${action}`, protected: true })),
);
const publicRoute: fc.Arbitrary<Route> = fc.constantFrom(
  { method: 'POST', path: '/auth/login', protected: false },
  { method: 'POST', path: '/auth/login', protected: false },
  { method: 'POST', path: '/auth/refresh', protected: false },
  { method: 'POST', path: '/auth/refresh', protected: false },
  { method: 'POST', path: '/auth/logout', protected: false },
  { method: 'POST', path: '/auth/register', protected: false },
);

/** Mutations of a genuine token that keep it a plausible header value. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: fc.constantFrom(...'ABCabc0189-_.') }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: headerString(4) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat({ max: 2 }), b: fc.nat({ max: 2 }) }),
  fc.record({ kind: fc.constant('case' as const) }),
  fc.record({ kind: fc.constant('header' as const), header: jwtHeader }),
  fc.record({ kind: fc.constant('payload' as const), claims }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function isGeneric401(body: string): boolean {
  try {
    const parsed = JSON.parse(body);
    return Object.keys(parsed).length === 2 && parsed.statusCode === 401 && parsed.message === 'Unauthorized';
  } catch {
    return false;
  }
}

function mutate(token: string, m: Mutation): string {
  const parts = token.split('.');
  if (parts.length !== 3 && (m.kind === 'header' || m.kind === 'payload' || m.kind === 'swap')) return mutate(token, { kind: 'flip', at: 0, char: '.' });
  switch (m.kind) {
    case 'flip': {
      const at = m.at % token.length;
      return token.slice(0, at) + m.char + token.slice(at + 1);
    }
    case 'truncate':
      return token.slice(0, m.at % token.length);
    case 'insert': {
      const at = m.at % (token.length + 1);
      return token.slice(0, at) + m.text + token.slice(at);
    }
    case 'delete': {
      const at = m.at % token.length;
      return token.slice(0, at) + token.slice(at + 1);
    }
    case 'swap': {
      const swapped = [...parts];
      [swapped[m.a], swapped[m.b]] = [swapped[m.b], swapped[m.a]];
      return swapped.join('.');
    }
    case 'case':
      return token.replace(/[a-z]/, (c) => c.toUpperCase());
    case 'header':
      return [b64url({ ...decodePart(token, 0), ...m.header }), parts[1], parts[2]].join('.');
    case 'payload':
      return [parts[0], b64url({ ...decodePart(token, 1), ...m.claims }), parts[2]].join('.');
  }
}

// ---------------------------------------------------------------------------------------------
// The fuzzing
// ---------------------------------------------------------------------------------------------

let logs: LogCapture;
const secrets = new SecretRegistry();
const errorBodies: string[] = [];
const figures: Record<string, { requests: number; statuses: Record<number, number>; p99: number; max: number }> = {};

beforeAll(() => {
  logs = captureLogs();
});
afterAll(() => {
  if (process.env.FUZZ_DEBUG) process.stderr.write(logs.logger.lines.filter((l) => l.startsWith('[error]')).map((l) => l.split('\n').slice(0, 4).join(' | ')).filter((l, i, a) => a.indexOf(l) === i).slice(0, 30).join('\n---\n'));
  logs?.stop();
  // One line per database for test/SECURITY-RESULTS.md.
  process.stderr.write(`\nsecurity-fuzz figures: ${JSON.stringify(figures)}\n`);
});

describe.each(testDatabases())('fuzzing the sample app (%s)', (dbName, database) => {
  const budget = BUDGET[dbName];
  let s: SecuritySample;
  let client: ReturnType<typeof keepAliveClient>;
  const times: number[] = [];
  const statuses: Record<number, number> = {};
  let sent = 0;
  let userCounter = 0;

  beforeAll(async () => {
    s = await startSecuritySample(database(), logs.logger);
    client = keepAliveClient(s.base, BATCH);
  });
  afterAll(async () => {
    figures[dbName] = { requests: sent, statuses, p99: Math.round(percentile(times, 99)), max: Math.round(Math.max(0, ...times)) };
    // Per-user session tokens and password hashes of every user the fuzzing created.
    if (s) for (const u of await sampleUserSecrets(s.dataSource)) (secrets.add(`user ${u.id} session token`, u.sessionToken), secrets.add(`user ${u.id} password hash`, u.passwordHash));
    client?.close();
    await s?.close();
  });

  async function send(route: Route, auth: string | undefined, b: Body = {}, userAgent?: string): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (userAgent !== undefined) headers['User-Agent'] = userAgent;
    if (auth !== undefined) headers.Authorization = auth;
    if (b.contentType) headers['Content-Type'] = b.contentType;
    let res: RawResponse;
    try {
      res = await client.request(route.method, route.path, headers, b.data);
    } catch (error) {
      // An oversized body is refused (413, Connection: close) before it is read to its end; the
      // client may see the close before the answer. That is a refusal, not a server error.
      if (process.env.FUZZ_DEBUG) process.stderr.write(`\nCLIENT ERROR ${(error as Error).message} ${route.method} ${route.path} ct=${b.contentType} len=${b.data?.length} auth=${auth?.length} data=${JSON.stringify(String(b.data).slice(0, 100))}\n`);
      if (!(b.data && b.data.length > 100 * 1024 && /hang up|ECONNRESET|EPIPE/.test(String((error as Error).message ?? (error as any).code)))) throw error;
      res = { status: 413, headers: {}, body: '', ms: 0 };
    }
    sent++;
    times.push(res.ms);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status >= 400) errorBodies.push(res.body);
    return res;
  }

  /** The checks every answer must pass. */
  function check(route: Route, auth: string | undefined, res: RawResponse, tokenIsValid = false) {
    const where = `${route.method} ${route.path} (Authorization: ${JSON.stringify(auth?.slice(0, 120))})`;
    if (res.status >= 500) throw new Error(`${res.status} from ${where}: ${res.body.slice(0, 300)}`);
    if (res.ms > BOUND_MS) throw new Error(`${Math.round(res.ms)} ms for ${where}`);
    if (route.protected && !tokenIsValid) {
      if (res.status < 300) throw new Error(`${res.status} from protected ${where} without a valid token`);
      if (res.status === 401 && (!isGeneric401(res.body) || !/^Bearer( error="invalid_token")?$/.test(res.headers['www-authenticate'] ?? ''))) {
        throw new Error(`non-generic 401 from ${where}: ${res.body} / ${res.headers['www-authenticate']}`);
      }
    }
    const token = auth?.replace(/^\s*\S+\s+/, '').trim();
    if (token && token.length >= 16 && res.body.includes(token)) throw new Error(`${where} echoed the token`);
  }

  async function newUser(): Promise<{ email: string; password: string; accessToken: string; refreshToken: string }> {
    const email = `fuzz-${dbName}-${userCounter++}-${randomBytes(3).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    secrets.add('fuzz password', password);
    expect((await client.request('POST', '/auth/register', { 'Content-Type': 'application/json' }, JSON.stringify({ email, password }))).status).toBe(201);
    const res = await client.request('POST', '/auth/login', { 'Content-Type': 'application/json' }, JSON.stringify({ email, password }));
    expect(res.status).toBe(200);
    const tokens = JSON.parse(res.body);
    secrets.addTokens('fuzz', tokens);
    return { email, password, ...tokens };
  }

  const runs = (requests: number) => Math.ceil(requests / BATCH);
  const options = (requests: number) => ({ numRuns: runs(requests), seed: SEED, endOnFailure: true });

  it(`protected routes: generated Authorization headers and bodies never pass, never 5xx`, async () => {
    const before = sent;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(protectedRoute, authorization, body), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map(([route, auth, b]) => send(route, auth, b)));
        answers.forEach((res, i) => check(batch[i][0], batch[i][1], res));
      }),
      options(budget.anonymous),
    );
    expect(sent - before).toBeGreaterThanOrEqual(budget.anonymous);
  });

  it('public auth routes: generated bodies and headers never 5xx; login/refresh never succeed on guesses', async () => {
    const before = sent;
    // Accounts the generated register requests created: logging into those is no guess.
    const registered = new Set<string>();
    const credentials = (b: Body) => {
      try {
        const { email, password } = JSON.parse(String(b.data));
        return typeof email === 'string' ? `${email.trim().toLowerCase()}\n${password}` : '';
      } catch {
        return '';
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(publicRoute, authorization, body, fc.option(headerString(700))), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map(([route, auth, b, ua]) => send(route, auth, b, ua ?? undefined)));
        answers.forEach((res, i) => {
          const route = batch[i][0];
          check(route, batch[i][1], res);
          if (route.path === '/auth/register' && res.status === 201) registered.add(credentials(batch[i][2]));
          if (route.path === '/auth/login' || route.path === '/auth/refresh') {
            if (res.status < 300 && !(route.path === '/auth/login' && registered.has(credentials(batch[i][2])))) throw new Error(`${res.status} from ${route.path} for a generated body ${String(batch[i][2].data).slice(0, 200)}`);
          }
          if (route.path === '/auth/logout' && res.status !== 204 && !(res.status >= 400 && res.status < 500 && res.body.includes('body'))) {
            throw new Error(`logout answered ${res.status} ${res.body}`);
          }
        });
      }),
      options(budget.public),
    );
    expect(sent - before).toBeGreaterThanOrEqual(budget.public);
  });

  it('mutated genuine access and refresh tokens are refused (401), the genuine ones still work', async () => {
    const before = sent;
    let user = await newUser();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...PROTECTED), mutation, fc.boolean()), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(
          batch.map(async ([route, m, refresh]) => {
            if (refresh) {
              const forged = mutate(user.refreshToken, m);
              const res = await send({ method: 'POST', path: '/auth/refresh', protected: false }, undefined, {
                contentType: 'application/json',
                data: JSON.stringify({ refreshToken: forged }),
              });
              if (forged !== user.refreshToken && res.status < 300) throw new Error(`mutated refresh token ${forged} was accepted`);
              return null;
            }
            const forged = mutate(user.accessToken, m);
            const res = await send(route, `Bearer ${forged}`, { contentType: 'application/json', data: '{}' });
            check(route, `Bearer ${forged}`, res, forged === user.accessToken);
            if (forged !== user.accessToken && res.status !== 401 && res.status !== 400) throw new Error(`mutated token got ${res.status}`);
            return res;
          }),
        );
        void answers;
        // The genuine token is untouched by all of it (unless a mutation was the identity and logged everyone out).
        const me = await send({ method: 'GET', path: '/me', protected: true }, `Bearer ${user.accessToken}`);
        if (me.status !== 200) user = await newUser();
      }),
      options(budget.mutated),
    );
    expect(sent - before).toBeGreaterThanOrEqual(budget.mutated);
  });

  it('tokens signed with the real secret but generated claims and headers: 401, never 5xx (defence in depth)', async () => {
    const before = sent;
    const user = await newUser();
    const genuine = decodePart(user.accessToken, 1);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...PROTECTED), jwtHeader, claims, fc.boolean()), { minLength: BATCH, maxLength: BATCH }),
        async (batch) => {
          const answers = await Promise.all(
            batch.map(([route, header, generated, keepTyp]) => {
              // Half the runs keep the genuine header so the claims reach the database lookups.
              const h = keepTyp ? { alg: 'HS256', typ: 'at+jwt' } : { alg: 'HS256', ...header };
              const token = hmacJwt('HS256', h, { ...genuine, ...generated }, SECURITY_SAMPLE_SECRET);
              return send(route, `Bearer ${token}`, { contentType: 'application/json', data: '{}' }).then((res) => ({ res, route, token, generated }));
            }),
          );
          for (const { res, route, token, generated } of answers) {
            const sameAsGenuine = ['sub', 'sid', 'sfp'].every((k) => !(k in generated) || (generated as any)[k] === genuine[k]);
            check(route, `Bearer ${token}`, res, sameAsGenuine);
            if (!sameAsGenuine && res.status !== 401 && res.status !== 400) {
              throw new Error(`${res.status} ${res.body} for signed claims ${JSON.stringify(generated)}`);
            }
          }
        },
      ),
      options(budget.signed),
    );
    expect(sent - before).toBeGreaterThanOrEqual(budget.signed);
  });

  it('authenticated: generated bodies, ids and paths behind a valid token never 5xx', async () => {
    const before = sent;
    let user = await newUser();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(protectedRoute, body), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map(([route, b]) => send(route, `Bearer ${user.accessToken}`, b)));
        answers.forEach((res, i) => {
          check(batch[i][0], `Bearer ${user.accessToken}`, res, true);
          if (res.status < 300 && res.body.includes('accessToken')) secrets.addTokens('fuzz (renewed)', JSON.parse(res.body));
        });
        // Admin routes stay closed to a plain user whatever the id.
        answers.forEach((res, i) => {
          if (batch[i][0].path.startsWith('/admin/') && res.status < 300) throw new Error(`admin route ${batch[i][0].path} answered ${res.status}`);
        });
        const me = await send({ method: 'GET', path: '/me', protected: true }, `Bearer ${user.accessToken}`);
        if (me.status !== 200) user = await newUser(); // a generated body logged the session out or changed the password
      }),
      options(budget.authenticated),
    );
    expect(sent - before).toBeGreaterThanOrEqual(budget.authenticated);
  });

  it('raw bytes (control characters, UTF-8, oversized) in the Authorization header and the path: 4xx, never 5xx', async () => {
    const rawByte = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x7f, max: 0xff }));
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(rawByte, { maxLength: 120 }),
        fc.constantFrom('/me', '/sessions', '/auth/logout-all'),
        async (authBytes, pathBytes, path) => {
          const head = Buffer.concat([
            Buffer.from(`${path === '/me' ? 'GET' : 'POST'} ${path}`, 'latin1'),
            Buffer.from(pathBytes.filter((c) => c !== 0x20 && c !== 0x0d && c !== 0x0a)),
            Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ', 'latin1'),
            Buffer.from(authBytes.filter((c) => c !== 0x0d && c !== 0x0a)),
          ]);
          const res = await rawHttp(s.base, head);
          count++;
          sent++;
          times.push(res.ms);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (!(res.status >= 400 && res.status < 500)) throw new Error(`raw request answered ${res.status}: ${res.body.slice(0, 200)}`);
          if (res.ms > BOUND_MS) throw new Error(`raw request took ${res.ms} ms`);
        },
      ),
      { numRuns: budget.raw, seed: SEED, endOnFailure: true },
    );
    expect(count).toBe(budget.raw);
  });

  // Regression (was a sample bug): a JSON body nested some 2,500+ levels deep (a few kB, far under the
  // 100 kB limit) overflowed the stack in class-transformer (ValidationPipe, transform: true) and answered
  // 500. The sample's JSON body parser now refuses bodies nested deeper than 64 levels with a 400.
  it('regression (sample): JSON bodies nested 3,000 to 10,000 levels deep answer 400, not 500', async () => {
    const deep = { contentType: 'application/json', data: '['.repeat(10_000) + ']'.repeat(10_000) };
    // 3,000 levels of objects: 48 kB, under the 100 kB limit (10,000 would be a 413).
    const deepObject = { contentType: 'application/json', data: '{"refreshToken":'.repeat(3_000) + '1' + '}'.repeat(3_000) };
    const answers = [
      await send({ method: 'POST', path: '/auth/login', protected: false }, undefined, deep),
      await send({ method: 'POST', path: '/auth/refresh', protected: false }, undefined, deepObject),
      await send({ method: 'POST', path: '/auth/register', protected: false }, undefined, deep),
    ];
    // Not counted as fuzzing results: take them out of the figures again.
    for (const res of answers) {
      if (--statuses[res.status] === 0) delete statuses[res.status];
      times.pop();
      sent--;
    }
    expect(answers.map((r) => r.status)).toEqual([400, 400, 400]);
  });

  it('totals: every answer within the bound, no 5xx at all', () => {
    const total = Object.values(budget).reduce((a, b) => a + b, 0);
    expect(sent).toBeGreaterThanOrEqual(total);
    expect(Object.keys(statuses).filter((code) => Number(code) >= 500)).toEqual([]);
    expect(Math.max(...times)).toBeLessThan(BOUND_MS);
  });
});

it('no token, session token, password or hash in any log line or error body', () => {
  expect(secrets.size).toBeGreaterThan(10);
  expect(secrets.findIn([...logs.all(), ...errorBodies])).toEqual([]);
});
