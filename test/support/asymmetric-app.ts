import { generateKeyPairSync } from 'node:crypto';
import type { TestDatabase } from './databases.js';
import { createTestApp, type TestApp } from './test-app.js';

/** An RSA key pair (PEM strings), generated once per process. */
export interface RsaKeyPair {
  privateKey: string;
  publicKey: string;
}

let keys: RsaKeyPair | undefined;
/** The RS256 app's key pair. */
export function rsaKeys(): RsaKeyPair {
  keys ??= generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return keys;
}

/** The minimal test app (POST /login/:id, GET /me, GET /public) signing access tokens with RS256. */
export function createAsymmetricApp(db: TestDatabase, adapter: 'express' | 'fastify' = 'express'): Promise<TestApp> {
  const { privateKey, publicKey } = rsaKeys();
  return createTestApp(db, {
    adapter,
    options: { jwt: { algorithm: 'RS256', privateKey, publicKey, issuer: 'test', audience: 'test' } },
  });
}
