import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import type { RevocationBus } from './bus/revocation-bus.js';
import { extractBearerToken } from './http/token-extractors.js';
import type {
  NonHttpContextPolicy,
  SessionJwtAlgorithm,
  SessionLegacyTokenOptions,
  SessionRevocationModuleOptions,
} from './interfaces/session-revocation-options.interface.js';
import { SessionRevocationConfigError } from './session-revocation.errors.js';
import type { SessionStore } from './storage/session-store.interface.js';
import { deriveKey } from './utils/crypto.js';
import { assertStrongSecret, durationOption as duration, OPTION_LIMITS, resolveSessionPolicy, type ResolvedSessionPolicy } from './session-policy-options.js';
import { DEFAULT_BUS_CHANNEL } from './session-revocation.constants.js';
import { getSessionTokenProperty } from './typeorm/entity-metadata.js';

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

/** The bus the options ask for, resolved. */
export type ResolvedBusOption =
  | { kind: 'redis'; url: string; channel: string }
  | { kind: 'postgres'; channel: string }
  | { kind: 'custom'; bus: RevocationBus };

/** The `legacyTokens` option, validated, its key parsed once. */
export interface ResolvedLegacyTokens {
  /** Pinned algorithm of the app's tokens. */
  algorithm: SessionJwtAlgorithm;
  /** The key that verifies them. */
  verifyKey: KeyObject;
  /** `iss` required, if set. */
  issuer?: string;
  /** `aud` required, if set. */
  audience?: string;
  /** End of the transition, ms since the epoch. */
  untilMs: number;
  /** The user a payload names (default: `sub`). */
  userId?: SessionLegacyTokenOptions['userId'];
}

/**
 * The module's options after validation, every default applied, flat: what the library's parts
 * and `SessionGuard` subclasses see (inject it with `@InjectSessionRevocationOptions()`).
 */
export interface ResolvedSessionRevocationOptions extends ResolvedSessionPolicy {
  /** The app's user entity (TypeORM store). */
  userEntity?: EntityTarget<ObjectLiteral>;
  /** The DataSource option as given (else the app's default DataSource is used). */
  dataSource?: DataSource;
  /** The store option as given (else the TypeORM store). */
  store?: SessionStore;
  /** Pinned JWT algorithm. */
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
  /** `iss` written and required, if set. */
  issuer?: string;
  /** `aud` written and required, if set. */
  audience?: string;
  /** Access-token lifetime. */
  accessTtlMs: number;
  /** Refresh-token lifetime (sliding). */
  refreshTtlMs: number;
  /** Absolute session lifetime. */
  sessionMaxAgeMs: number;
  /** Minimum time between two `lastSeenAt` writes of a session. */
  lastSeenIntervalMs: number;
  /** Clock skew tolerated on `exp`/`nbf`. */
  clockToleranceSeconds: number;
  /** Most cache entries; 0 when the cache is off (strict mode). */
  cacheMax: number;
  /** How long a cache entry may be served. */
  cacheTtlMs: number;
  /** The revocation bus, if any. */
  bus: ResolvedBusOption | undefined;
  /** What the guard does on RPC and WebSocket contexts. */
  nonHttpContexts: NonHttpContextPolicy;
  /** The app's public-route metadata key the guard honours like `@SkipSessionCheck()`, if given. */
  publicRouteKey?: string | symbol;
  /** The app's own pre-adoption tokens, accepted until `untilMs`, if configured. */
  legacyTokens?: ResolvedLegacyTokens;
  /** Reads the access token of a request: `undefined` when none, `null` when unusable. */
  tokenExtractor: (request: any) => string | undefined | null;
  /** The EventEmitter2-compatible emitter, if given. */
  eventEmitter?: SessionRevocationModuleOptions['eventEmitter'];
}

export { SessionRevocationConfigError };

/**
 * Default `cache.max`: access tokens held (each with at most one session and one user entry).
 * About 1 KB a token (docs/scaling.md, measured by `npm run bench`): ~50 MB at the default.
 */
export const DEFAULT_CACHE_MAX = 50_000;

/** Validates options and applies defaults; throws {@link SessionRevocationConfigError}. */
export function resolveOptions(options: SessionRevocationModuleOptions | undefined): ResolvedSessionRevocationOptions {
  if (!options || typeof options !== 'object') throw new SessionRevocationConfigError('options', 'are missing');
  if (options.store !== undefined && !isStore(options.store)) throw new SessionRevocationConfigError('store', 'must implement the SessionStore interface');
  if (!options.store && !options.userEntity) throw new SessionRevocationConfigError('userEntity', 'is required (or pass a store)');
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
    assertStrongSecret('jwt.secret', jwt.secret);
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
  if (jwt.fingerprintSecret !== undefined) assertStrongSecret('jwt.fingerprintSecret', jwt.fingerprintSecret);
  const accessTtlMs = duration('jwt.accessTtl', jwt.accessTtl, '15m', OPTION_LIMITS.accessTtlMs, '1h');
  const refreshTtlMs = duration('jwt.refreshTtl', jwt.refreshTtl, '30d', OPTION_LIMITS.refreshTtlMs, '400d');
  const sessionMaxAgeMs = duration('jwt.sessionMaxAge', jwt.sessionMaxAge, '90d', OPTION_LIMITS.sessionMaxAgeMs, '400d');
  const clockToleranceSeconds = jwt.clockToleranceSeconds ?? 5;
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0 || clockToleranceSeconds > OPTION_LIMITS.clockToleranceSeconds) {
    throw new SessionRevocationConfigError('jwt.clockToleranceSeconds', `must be a number of seconds from 0 to ${OPTION_LIMITS.clockToleranceSeconds}`);
  }
  const lastSeenIntervalMs = duration('lastSeenInterval', options.lastSeenInterval, '1m');
  const policy = resolveSessionPolicy(options, { sessionMaxAgeMs, lastSeenIntervalMs });
  if (options.nonHttpContexts !== undefined && !['authenticate', 'skip', 'deny'].includes(options.nonHttpContexts)) {
    throw new SessionRevocationConfigError('nonHttpContexts', "must be 'authenticate', 'skip' or 'deny'");
  }
  const bus = resolveBus(options);
  let cacheMax = 0;
  let cacheTtlMs = 0;
  if (options.cache !== false) {
    const cache = options.cache ?? {};
    cacheMax = cache.max ?? DEFAULT_CACHE_MAX;
    if (!Number.isInteger(cacheMax) || cacheMax < 1) throw new SessionRevocationConfigError('cache.max', 'must be a positive integer');
    cacheTtlMs = duration('cache.ttl', cache.ttl, bus ? '60s' : '5s');
  }
  const { publicRouteKey } = options;
  if (publicRouteKey !== undefined && !(typeof publicRouteKey === 'symbol' || (typeof publicRouteKey === 'string' && publicRouteKey.length > 0))) {
    throw new SessionRevocationConfigError('publicRouteKey', 'must be a non-empty string or a symbol (the metadata key your @Public() decorator sets)');
  }
  const extractor = options.tokenExtractor;
  if (extractor !== undefined && typeof extractor !== 'function') throw new SessionRevocationConfigError('tokenExtractor', 'must be a function');
  return {
    userEntity: options.userEntity,
    dataSource: options.dataSource,
    store: options.store,
    algorithm,
    signingKey,
    verifyKey,
    // From the raw material, as before keys were parsed: fingerprints stay valid across upgrades.
    fingerprintKey: deriveKey(jwt.fingerprintSecret ?? keyMaterial, 'session-token-fingerprint'),
    issuer: jwt.issuer,
    audience: jwt.audience,
    accessTtlMs,
    refreshTtlMs,
    sessionMaxAgeMs,
    lastSeenIntervalMs,
    clockToleranceSeconds,
    cacheMax,
    cacheTtlMs,
    bus,
    nonHttpContexts: options.nonHttpContexts ?? 'authenticate',
    publicRouteKey,
    legacyTokens: options.legacyTokens === undefined ? undefined : resolveLegacyTokens(options.legacyTokens),
    tokenExtractor: extractor ? safeExtractor(extractor) : extractBearerToken,
    eventEmitter: options.eventEmitter,
    ...policy,
  };
}

function resolveLegacyTokens(legacy: SessionLegacyTokenOptions): ResolvedLegacyTokens {
  if (!legacy || typeof legacy !== 'object') throw new SessionRevocationConfigError('legacyTokens', 'must be an object');
  const algorithm = (legacy.algorithm ?? 'HS256') as SessionJwtAlgorithm;
  let verifyKey: KeyObject;
  if (HMAC_ALGORITHMS.includes(algorithm)) {
    if ((typeof legacy.secret !== 'string' && !Buffer.isBuffer(legacy.secret)) || Buffer.byteLength(legacy.secret) === 0) {
      throw new SessionRevocationConfigError('legacyTokens.secret', `is required for ${algorithm} (the secret the app signed its tokens with)`);
    }
    verifyKey = createSecretKey(typeof legacy.secret === 'string' ? Buffer.from(legacy.secret, 'utf8') : legacy.secret);
  } else if (ASYMMETRIC_ALGORITHMS.includes(algorithm)) {
    if (!legacy.publicKey) throw new SessionRevocationConfigError('legacyTokens.publicKey', `is required for ${algorithm}`);
    verifyKey = parseKey('legacyTokens.publicKey', () => createPublicKey(legacy.publicKey!), algorithm);
  } else {
    throw new SessionRevocationConfigError('legacyTokens.algorithm', `must be one of ${[...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS].join(', ')} (got ${JSON.stringify(legacy.algorithm)})`);
  }
  const untilMs = legacy.until instanceof Date ? legacy.until.getTime() : typeof legacy.until === 'string' ? Date.parse(legacy.until) : NaN;
  if (!Number.isFinite(untilMs)) throw new SessionRevocationConfigError('legacyTokens.until', 'is required: the end of the transition, a Date or an ISO 8601 string');
  if (legacy.userId !== undefined && typeof legacy.userId !== 'function') throw new SessionRevocationConfigError('legacyTokens.userId', 'must be a function (payload) => user id');
  return { algorithm, verifyKey, issuer: legacy.issuer, audience: legacy.audience, untilMs, userId: legacy.userId };
}

/** An app's extractor: a throw means an unusable token (null), a missing one `undefined`. */
function safeExtractor(extract: (request: any) => string | undefined): (request: any) => string | undefined | null {
  return (request) => {
    try {
      return extract(request) ?? undefined;
    } catch {
      return null;
    }
  };
}

/** One bus from `bus`, or from its aliases `redis` / `postgresNotify`. */
function resolveBus(options: SessionRevocationModuleOptions): ResolvedBusOption | undefined {
  const given = [options.bus !== undefined && 'bus', options.redis !== undefined && 'redis', !!options.postgresNotify && 'postgresNotify'].filter(Boolean);
  if (given.length > 1) throw new SessionRevocationConfigError(String(given[1]), `cannot be combined with '${given[0]}': choose one bus`);
  const bus = options.bus as Record<string, any> | undefined;
  const redis = options.redis ?? (bus && 'redis' in bus ? bus.redis : undefined);
  const postgres = options.postgresNotify || (bus && 'postgres' in bus ? bus.postgres : undefined);
  const prefix = options.bus ? 'bus.' : '';
  if (redis !== undefined) {
    if (typeof redis?.url !== 'string' || !/^rediss?:\/\//.test(redis.url)) {
      throw new SessionRevocationConfigError(`${prefix}redis.url`, 'must be a redis:// or rediss:// URL');
    }
    return { kind: 'redis', url: redis.url, channel: channelName(`${prefix}redis.channel`, redis.channel) };
  }
  if (postgres) {
    const channel = typeof postgres === 'object' ? postgres.channel : undefined;
    return { kind: 'postgres', channel: channelName(options.bus ? 'bus.postgres.channel' : 'postgresNotify.channel', channel) };
  }
  if (bus === undefined) return undefined;
  if (typeof bus.start !== 'function' || typeof bus.publish !== 'function' || typeof bus.close !== 'function') {
    throw new SessionRevocationConfigError('bus', 'must be { redis: { url } }, { postgres: true } or an object implementing RevocationBus (start, publish, close)');
  }
  return { kind: 'custom', bus: bus as RevocationBus };
}

function isStore(store: unknown): store is SessionStore {
  return !!store && typeof store === 'object' && typeof (store as SessionStore).consumeRefreshToken === 'function' && typeof (store as SessionStore).findSession === 'function';
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
