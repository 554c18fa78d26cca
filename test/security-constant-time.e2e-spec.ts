import { createRequire } from 'node:module';

/**
 * Constant-time comparison, tested by behaviour rather than by reading the source: node's
 * crypto.timingSafeEqual is wrapped BEFORE the library is loaded (everything below is imported
 * dynamically, after the wrap, so the library's `import { timingSafeEqual } from 'node:crypto'`
 * binds the wrapper), then real requests go through the guard. The session-token fingerprint
 * (`sfp`) and the HS256 signature must both be compared through timingSafeEqual.
 *
 * Not covered by a test, documented instead: wall-clock timing (too noisy to assert on shared CI);
 * refresh tokens are never compared in JavaScript at all - they are looked up by their SHA-256
 * hash in the database, so their bytes do not drive any early-exit comparison; a fingerprint of
 * the wrong length is refused before timingSafeEqual (its length is public: 22 characters).
 */

const require = createRequire(import.meta.url);
const nodeCrypto = require('node:crypto') as typeof import('node:crypto');
const original = nodeCrypto.timingSafeEqual;
const calls: Array<[string, string]> = [];
nodeCrypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
  calls.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('latin1'), Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')]);
  return original(a, b);
}) as typeof original;

type TestAppModule = typeof import('./support/test-app.js');
type SecurityModule = typeof import('./support/security.js');

let testApp: TestAppModule;
let security: SecurityModule;
let t: Awaited<ReturnType<TestAppModule['createTestApp']>>;
let client: ReturnType<SecurityModule['keepAliveClient']>;

beforeAll(async () => {
  testApp = await import('./support/test-app.js');
  security = await import('./support/security.js');
  const { testDatabases } = await import('./support/databases.js');
  t = await testApp.createTestApp(testDatabases()[0][1]());
  client = security.keepAliveClient(await security.listen(t.app), 2);
});

afterAll(async () => {
  nodeCrypto.timingSafeEqual = original;
  client?.close();
  await t?.close();
});

async function session() {
  const user = await t.dataSource.getRepository(testApp.TestUser).save({ email: `ct-${Math.random().toString(36).slice(2)}@example.com`, passwordHash: 'h' });
  return t.sessions.issue(user.id);
}
const me = (token: string) => client.request('GET', '/me', { Authorization: `Bearer ${token}` });

it('the library really bound the wrapped timingSafeEqual (the test is not vacuous)', async () => {
  const { safeEqual } = await import('../lib/utils/crypto.js');
  calls.length = 0;
  expect(safeEqual('abc', 'abd')).toBe(false);
  expect(calls).toEqual([['abc', 'abd']]);
});

it('a genuine token: the fingerprint and the HS256 signature are both compared in constant time', async () => {
  const { accessToken } = await session();
  const claims = security.decodePart(accessToken, 1);
  calls.length = 0;
  expect((await me(accessToken)).status).toBe(200);
  // The fingerprint comparison: the claim against the user's current fingerprint (equal here).
  expect(calls).toContainEqual([claims.sfp, claims.sfp]);
  // The JWT signature comparison (jsonwebtoken -> jwa), also through timingSafeEqual.
  const signature = accessToken.split('.')[2];
  expect(calls.some(([a, b]) => a === signature && b === signature)).toBe(true);
});

it('a forged fingerprint of the right length (signed with the real key) is compared in constant time and refused', async () => {
  const { accessToken } = await session();
  const claims = security.decodePart(accessToken, 1);
  const forgedSfp = claims.sfp.slice(0, -1) + (claims.sfp.endsWith('A') ? 'B' : 'A');
  const forged = security.hmacJwt('HS256', security.decodePart(accessToken, 0), { ...claims, sfp: forgedSfp }, testApp.TEST_SECRET);
  calls.length = 0;
  const res = await me(forged);
  expect(res.status).toBe(401);
  expect(calls).toContainEqual([forgedSfp, claims.sfp]);
});

it('a forged HS256 signature is compared in constant time and refused', async () => {
  const { accessToken } = await session();
  const [h, p, sig] = accessToken.split('.');
  const forgedSig = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
  calls.length = 0;
  expect((await me(`${h}.${p}.${forgedSig}`)).status).toBe(401);
  expect(calls.some(([a, b]) => a === forgedSig && b === sig)).toBe(true);
});

it('a fingerprint of another length is refused without a comparison (its length is public)', async () => {
  const { accessToken } = await session();
  const claims = security.decodePart(accessToken, 1);
  const forged = security.hmacJwt('HS256', security.decodePart(accessToken, 0), { ...claims, sfp: `${claims.sfp}AAAA` }, testApp.TEST_SECRET);
  calls.length = 0;
  expect((await me(forged)).status).toBe(401);
  expect(calls.some(([a]) => a === `${claims.sfp}AAAA`)).toBe(false);
});
