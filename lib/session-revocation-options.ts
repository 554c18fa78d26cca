import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { SessionJwtAlgorithm, SessionRevocationModuleOptions } from './interfaces/session-revocation-options.interface.js';
import { deriveKey } from './utils/crypto.js';
import { parseDuration } from './utils/duration.js';
import { DEFAULT_BUS_CHANNEL } from './session-revocation.constants.js';
import { getSessionTokenProperty } from './typeorm/entity-metadata.js';

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

/** Options after validation, with every default applied (what `SessionGuard` subclasses see as `config`). */
export interface ResolvedSessionRevocationOptions {
  options: SessionRevocationModuleOptions;
  algorithm: SessionJwtAlgorithm;
  /**
   * The signing key, parsed once at startup: a secret `KeyObject` for HS*, a private one for
   * RS/PS/ES*. (Handing jsonwebtoken a string makes it parse the key again on every call.)
   */
  signingKey: KeyObject;
  /** The verification key, parsed once at startup: the same secret for HS*, the public key otherwise. */
  verifyKey: KeyObject;
  /** Key of the session-token fingerprint (`sfp`), derived from the raw secret material. */
  fingerprintKey: Buffer;
  accessTtlMs: number;
  refreshTtlMs: number;
  sessionMaxAgeMs: number;
  lastSeenIntervalMs: number;
  clockToleranceSeconds: number;
  /** 0 when the cache is off (strict mode). */
  cacheMax: number;
  cacheTtlMs: number;
  bus: { kind: 'redis'; url: string; channel: string } | { kind: 'postgres'; channel: string } | undefined;
}



/** Raised at startup when the module's options are unusable. */
export class SessionRevocationConfigError extends Error {
  constructor(option: string, problem: string) {
    super(`SessionRevocationModule: option '${option}' ${problem}`);
    this.name = 'SessionRevocationConfigError';
  }
}

function duration(option: string, value: string | number | undefined, fallback: string): number {
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined) throw new SessionRevocationConfigError(option, `must be a duration like '15m' or a number of seconds (got ${JSON.stringify(value)})`);
  return ms;
}

/** Validates options and applies defaults; throws {@link SessionRevocationConfigError}. */
export function resolveOptions(options: SessionRevocationModuleOptions | undefined): ResolvedSessionRevocationOptions {
  if (!options || typeof options !== 'object') throw new SessionRevocationConfigError('options', 'are missing');
  if (!options.userEntity) throw new SessionRevocationConfigError('userEntity', 'is required');
  if (typeof options.userEntity === 'function' && !getSessionTokenProperty(options.userEntity)) {
    throw new SessionRevocationConfigError('userEntity', `(${options.userEntity.name}) has no @SessionTokenColumn() property`);
  }
  const jwt = options.jwt;
  if (!jwt || typeof jwt !== 'object') throw new SessionRevocationConfigError('jwt', 'is required');
  const algorithm = (jwt.algorithm ?? 'HS256') as SessionJwtAlgorithm;
  let signingKey: KeyObject;
  let verifyKey: KeyObject;
  let keyMaterial: string | Buffer;
  if (HMAC_ALGORITHMS.includes(algorithm)) {
    if (jwt.secret === undefined || jwt.secret === null || jwt.secret === '') {
      throw new SessionRevocationConfigError('jwt.secret', `is required for ${algorithm}`);
    }
    if (typeof jwt.secret !== 'string' && !Buffer.isBuffer(jwt.secret)) {
      throw new SessionRevocationConfigError('jwt.secret', 'must be a string or a Buffer');
    }
    if (Buffer.byteLength(jwt.secret) < 32) {
      throw new SessionRevocationConfigError('jwt.secret', 'must be at least 32 bytes long (use 32+ random bytes)');
    }
    keyMaterial = jwt.secret;
    signingKey = verifyKey = createSecretKey(typeof jwt.secret === 'string' ? Buffer.from(jwt.secret, 'utf8') : jwt.secret);
  } else if (ASYMMETRIC_ALGORITHMS.includes(algorithm)) {
    if (!jwt.privateKey) throw new SessionRevocationConfigError('jwt.privateKey', `is required for ${algorithm}`);
    if (!jwt.publicKey) throw new SessionRevocationConfigError('jwt.publicKey', `is required for ${algorithm}`);
    keyMaterial = jwt.privateKey;
    signingKey = parseKey('jwt.privateKey', () => createPrivateKey(jwt.privateKey!), algorithm);
    verifyKey = parseKey('jwt.publicKey', () => createPublicKey(jwt.publicKey!), algorithm);
    const derived = createPublicKey(signingKey).export({ type: 'spki', format: 'der' });
    if (!derived.equals(verifyKey.export({ type: 'spki', format: 'der' }))) {
      throw new SessionRevocationConfigError('jwt.publicKey', 'does not belong to jwt.privateKey');
    }
  } else {
    throw new SessionRevocationConfigError('jwt.algorithm', `must be one of ${[...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS].join(', ')} (got ${JSON.stringify(jwt.algorithm)})`);
  }
  if (jwt.fingerprintSecret !== undefined && Buffer.byteLength(jwt.fingerprintSecret) < 32) {
    throw new SessionRevocationConfigError('jwt.fingerprintSecret', 'must be at least 32 bytes long');
  }
  const accessTtlMs = duration('jwt.accessTtl', jwt.accessTtl, '15m');
  const refreshTtlMs = duration('jwt.refreshTtl', jwt.refreshTtl, '30d');
  const sessionMaxAgeMs = duration('jwt.sessionMaxAge', jwt.sessionMaxAge, '90d');
  const clockToleranceSeconds = jwt.clockToleranceSeconds ?? 5;
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new SessionRevocationConfigError('jwt.clockToleranceSeconds', 'must be a non-negative number');
  }
  if (options.nonHttpContexts && !['skip', 'deny'].includes(options.nonHttpContexts)) {
    throw new SessionRevocationConfigError('nonHttpContexts', "must be 'skip' or 'deny'");
  }
  let bus: ResolvedSessionRevocationOptions['bus'];
  if (options.redis !== undefined) {
    if (typeof options.redis?.url !== 'string' || !/^rediss?:\/\//.test(options.redis.url)) {
      throw new SessionRevocationConfigError('redis.url', "must be a redis:// or rediss:// URL");
    }
    bus = { kind: 'redis', url: options.redis.url, channel: channelName('redis.channel', options.redis.channel) };
  }
  if (options.postgresNotify) {
    if (bus) throw new SessionRevocationConfigError('postgresNotify', "cannot be combined with 'redis': choose one bus");
    const channel = typeof options.postgresNotify === 'object' ? options.postgresNotify.channel : undefined;
    bus = { kind: 'postgres', channel: channelName('postgresNotify.channel', channel) };
  }
  let cacheMax = 0;
  let cacheTtlMs = 0;
  if (options.cache !== false) {
    const cache = options.cache ?? {};
    cacheMax = cache.max ?? 10_000;
    if (!Number.isInteger(cacheMax) || cacheMax < 1) throw new SessionRevocationConfigError('cache.max', 'must be a positive integer');
    cacheTtlMs = duration('cache.ttl', cache.ttl, bus ? '60s' : '5s');
  }
  return {
    options,
    cacheMax,
    cacheTtlMs,
    bus,
    algorithm,
    signingKey,
    verifyKey,
    // From the raw material, as before keys were parsed: fingerprints stay valid across upgrades.
    fingerprintKey: deriveKey(jwt.fingerprintSecret ?? keyMaterial, 'session-token-fingerprint'),
    accessTtlMs,
    refreshTtlMs,
    sessionMaxAgeMs,
    lastSeenIntervalMs: duration('lastSeenInterval', options.lastSeenInterval, '1m'),
    clockToleranceSeconds,
  };
}

/** Key types each asymmetric algorithm family accepts (ES* also pins the curve). */
const KEY_TYPES: Record<string, { types: string[]; curve?: string }> = {
  RS: { types: ['rsa'] },
  PS: { types: ['rsa', 'rsa-pss'] },
  ES256: { types: ['ec'], curve: 'prime256v1' },
  ES384: { types: ['ec'], curve: 'secp384r1' },
  ES512: { types: ['ec'], curve: 'secp521r1' },
};

/** Parses a PEM key once; the error names the option and the problem, never the key. */
function parseKey(option: string, parse: () => KeyObject, algorithm: string): KeyObject {
  let key: KeyObject;
  try {
    key = parse();
  } catch {
    throw new SessionRevocationConfigError(option, 'is not a usable PEM key (an unencrypted PKCS#8/PKCS#1/SEC1 private key, an SPKI public key or a certificate)');
  }
  const expected = KEY_TYPES[algorithm] ?? KEY_TYPES[algorithm.slice(0, 2)];
  const type = key.asymmetricKeyType ?? 'unknown';
  if (!expected.types.includes(type)) {
    throw new SessionRevocationConfigError(option, `has key type ${type}; ${algorithm} needs ${expected.types.join(' or ')}`);
  }
  const modulusLength = key.asymmetricKeyDetails?.modulusLength;
  if (type.startsWith('rsa') && (modulusLength === undefined || modulusLength < 2048)) {
    // jsonwebtoken refuses to sign with smaller RSA keys: fail at startup, not on every login.
    throw new SessionRevocationConfigError(option, `is a ${modulusLength ?? 'unknown'}-bit RSA key; ${algorithm} needs at least 2048 bits`);
  }
  if (expected.curve && key.asymmetricKeyDetails?.namedCurve !== expected.curve) {
    throw new SessionRevocationConfigError(option, `is on curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}; ${algorithm} needs ${expected.curve}`);
  }
  return key;
}

function channelName(option: string, channel: string | undefined): string {
  const name = channel ?? DEFAULT_BUS_CHANNEL;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new SessionRevocationConfigError(option, 'must be a plain identifier');
  return name;
}
