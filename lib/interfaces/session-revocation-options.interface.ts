import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import type { RevocationBus } from '../bus/revocation-bus.js';
import type { SessionStore } from '../storage/session-store.interface.js';
import type { SessionEvent, UserId } from './session-context.interface.js';

/** JWT algorithms the library accepts. `none` is never accepted. */
export type SessionJwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512';

/** How access tokens are signed and verified. */
export interface SessionJwtOptions {
  /**
   * HMAC secret (HS* algorithms): at least 32 bytes, at least 8 distinct byte values, and not a
   * short unit repeated (`'changeme'.repeat(4)`). Use 32+ random bytes.
   */
  secret?: string | Buffer;
  /** PEM private key (RS*, PS*, ES* algorithms): signs access tokens. */
  privateKey?: string | Buffer;
  /** PEM public key (RS*, PS*, ES* algorithms): verifies access tokens. */
  publicKey?: string | Buffer;
  /** Signing algorithm, pinned on verification. Default `HS256`. */
  algorithm?: SessionJwtAlgorithm;
  /** Access-token lifetime, e.g. `'15m'` or seconds. Default `'15m'`, at most `'1h'`. */
  accessTtl?: string | number;
  /** Refresh-token lifetime (sliding, per token), e.g. `'30d'`. Default `'30d'`, at most `'400d'`. */
  refreshTtl?: string | number;
  /** Absolute lifetime of a session (a refresh-token family). Default `'90d'`, at most `'400d'`. */
  sessionMaxAge?: string | number;
  /** `iss` claim written and required. */
  issuer?: string;
  /** `aud` claim written and required. */
  audience?: string;
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, in seconds. Default 5, at most 300. */
  clockToleranceSeconds?: number;
  /**
   * Key for the session-token fingerprint carried in access tokens. Default: derived from
   * `secret` (or `privateKey`). Every instance must share it.
   */
  fingerprintSecret?: string | Buffer;
}

/** What a login past `maxSessionsPerUser` does: end the user's oldest session, or refuse the login. */
export type SessionLimitPolicy = 'evict-oldest' | 'refuse';

/** Options of the failed-login throttling (`LoginAttempts`). */
export interface LoginAttemptsOptions {
  /** Failures of one account before its back-off starts. Default 3. */
  freeAttempts?: number;
  /** Longest wait the back-off imposes after a failure (it doubles from 1 s). Default `'15m'`. */
  maxDelay?: string | number;
  /** Failures are forgotten this long after the first one of a series. Default `'24h'`. */
  window?: string | number;
  /**
   * Failed attempts one IP may make per `window` (all accounts together), then 429 until the
   * window ends. Default `{ max: 100, window: '15m' }`; `false` turns it off.
   */
  perIp?: false | { max: number; window?: string | number };
}

/** The periodic pruning of ended and expired sessions. */
export interface SessionPruneOptions {
  /** How often to prune. Default `'1h'`. */
  every?: string | number;
  /** How long a session stays in the store after it ended or expired. Default `'30d'`. */
  retain?: string | number;
}

/** The security activity log. */
export interface SessionAuditOptions {
  /** How long entries are kept. Default `'90d'`. */
  retain?: string | number;
}

/**
 * The app's own access tokens, minted before it adopted the library (e.g. `JwtService.sign({ sub })`),
 * accepted for a transition window so that nobody is logged out by the switch. A legacy token
 * names a user but no session: it is not revocable (only blocking the user and
 * `invalidateAllSessions()` end it before its `exp`), `@CurrentSession()` refuses it with a 401,
 * and `SessionService.exchangeLegacyToken()` swaps it for a real session.
 */
export interface SessionLegacyTokenOptions {
  /** The HMAC secret the app signed its tokens with (HS* algorithms). */
  secret?: string | Buffer;
  /** The PEM public key of the app's tokens (RS*, PS*, ES* algorithms). */
  publicKey?: string | Buffer;
  /** The one algorithm the app's tokens use, pinned on verification. Default `HS256`. */
  algorithm?: SessionJwtAlgorithm;
  /** `iss` the app's tokens carry, required when set. */
  issuer?: string;
  /** `aud` the app's tokens carry, required when set. */
  audience?: string;
  /**
   * End of the transition (a `Date` or an ISO 8601 string): from then on legacy tokens are
   * refused, and the module warns at startup that the option can go. Set it to the time the
   * last legacy token expires (deploy time plus the old token lifetime).
   */
  until: Date | string;
  /** The user a verified legacy payload names. Default: its `sub` claim. */
  userId?: (payload: Record<string, unknown>) => UserId | undefined;
}

/**
 * What the guard does on contexts that are not HTTP or GraphQL (WebSocket, RPC): `'authenticate'`
 * them (WebSocket messages against their connection's session, RPC messages by the token they
 * carry) and refuse what it cannot authenticate; `'deny'` them all; or `'skip'` them unchecked
 * (an explicit opt-out: the app then authenticates them itself).
 */
export type NonHttpContextPolicy = 'authenticate' | 'skip' | 'deny';

/** The per-request cache: verified access tokens with their session and user state. */
export interface SessionCacheOptions {
  /**
   * Most access tokens held, each with at most one session and one user entry (about 1 KB a
   * token, see README "Scaling"). Default 50,000 (~50 MB).
   */
  max?: number;
  /**
   * How long an entry may be served. It bounds staleness across instances when no bus
   * is configured. Default `'5s'` without a bus, `'60s'` with one.
   */
  ttl?: string | number;
}

/** Redis pub/sub bus that pushes revocations to every instance. */
export interface SessionRedisOptions {
  /** `redis://host:port/db` */
  url: string;
  /** Pub/sub channel. Default `session_revocation`. */
  channel?: string;
}

/** PostgreSQL LISTEN/NOTIFY bus (on the app's DataSource) that pushes revocations to every instance. */
export interface SessionPostgresNotifyOptions {
  /** NOTIFY channel; must match the trigger's. Default `session_revocation`. */
  channel?: string;
}

/**
 * The bus that pushes revocations to every instance: Redis pub/sub, PostgreSQL LISTEN/NOTIFY on
 * the app's DataSource, or any object implementing {@link RevocationBus} (an app's own ioredis or
 * Redis Cluster client, NATS, ...).
 */
export type SessionBusOption =
  | { redis: SessionRedisOptions }
  | { postgres: true | SessionPostgresNotifyOptions }
  | RevocationBus;

/** Options of {@link SessionRevocationModule}. */
export interface SessionRevocationModuleOptions {
  /**
   * The application's user entity; it must have a `@SessionTokenColumn()`. Required with the
   * default TypeORM store; not used when `store` is given.
   */
  userEntity?: EntityTarget<ObjectLiteral>;
  /**
   * Where sessions live. Default: the TypeORM store on the app's DataSource. Pass a
   * `MemorySessionStore` for tests without a database, or your own {@link SessionStore}.
   */
  store?: SessionStore;
  /** Token signing and lifetimes. */
  jwt: SessionJwtOptions;
  /** The DataSource to use. Default: the one registered by `TypeOrmModule.forRoot()`. */
  dataSource?: DataSource;
  /**
   * Per-request cache. `false` is strict mode: the database is asked on every request (zero
   * staleness across instances without a bus). Default `{ max: 50000 }` with the TTLs above.
   */
  cache?: false | SessionCacheOptions;
  /** Push revocations to every instance (see {@link SessionBusOption}). Default: none (single instance, or cache TTL bounds). */
  bus?: SessionBusOption;
  /** Alias of `bus: { redis }`. */
  redis?: SessionRedisOptions;
  /** Alias of `bus: { postgres }`. */
  postgresNotify?: boolean | SessionPostgresNotifyOptions;
  /**
   * Minimum time between two `lastSeenAt` writes of one session. Default `'1m'`; it must be
   * shorter than `idleTimeout` (the idle check reads `lastSeenAt`).
   */
  lastSeenInterval?: string | number;
  /**
   * A session unused for this long ends: every request and refresh is refused once
   * `lastSeenAt` is older (ASVS 7.3.1). Default `'30m'`; at most `jwt.sessionMaxAge`.
   */
  idleTimeout?: string | number;
  /**
   * Most live sessions one user may have (ASVS 7.1.2). Unset: no limit. A login past the limit
   * ends the user's oldest session (`sessionLimitPolicy: 'evict-oldest'`, its device is told
   * `session-ended`) or is refused (`'refuse'`, `SessionRefusedError` with reason `session-limit`).
   */
  maxSessionsPerUser?: number;
  /** What a login past `maxSessionsPerUser` does. Default `'evict-oldest'`. */
  sessionLimitPolicy?: SessionLimitPolicy;
  /** Failed-login throttling of `LoginAttempts` (the per-account back-off is always on). */
  loginAttempts?: LoginAttemptsOptions;
  /**
   * Deletes ended and expired sessions (and their refresh tokens) every `every`, on one
   * instance at a time, once they have been over for `retain`. Default: off; call
   * `SessionService.prune()` yourself, or turn this on.
   */
  prune?: SessionPruneOptions;
  /**
   * Keeps a security activity log (sign-ins, failed sign-ins, sign-outs, revocations, ...) for
   * `SessionService.activity()`. `true`: kept for `'90d'`. Default: off.
   */
  audit?: boolean | SessionAuditOptions;
  /** Guard behaviour for WebSocket and RPC contexts. Default `'authenticate'` (refuse what cannot be authenticated). */
  nonHttpContexts?: NonHttpContextPolicy;
  /**
   * The metadata key of the app's own "public route" decorator (the NestJS docs'
   * `IS_PUBLIC_KEY = 'isPublic'` set by `@Public()`): the guard skips routes that carry it, as it
   * does `@SkipSessionCheck()` routes. `@SkipSessionCheck(false)` still turns the check back on.
   */
  publicRouteKey?: string | symbol;
  /** Accept the app's own pre-adoption tokens until a date (see {@link SessionLegacyTokenOptions}). */
  legacyTokens?: SessionLegacyTokenOptions;
  /**
   * Reads the access token from a request. Default: the `Authorization: Bearer` header.
   * Return `undefined` when the request carries none.
   */
  tokenExtractor?: (request: any) => string | undefined;
  /**
   * An EventEmitter2-compatible emitter (`@nestjs/event-emitter`) that receives every
   * session event as `session.<type>`.
   */
  eventEmitter?: {
    /** Receives `session.<type>` and the event. */
    emit(event: string, payload: SessionEvent): unknown;
  };
}
