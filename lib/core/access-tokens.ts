import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID, type KeyObject } from 'node:crypto';
import type { UserId } from '../interfaces/session-context.interface.js';
import type { SessionJwtAlgorithm } from '../interfaces/session-revocation-options.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { ACCESS_TOKEN_TYP, MAX_TOKEN_LENGTH, SESSION_ID_PATTERN, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { hmacFingerprint, jwtKey } from '../utils/crypto.js';

/** The claims of a verified access token that the library relies on. @internal */
export interface AccessClaims {
  sub: string;
  sid: string;
  sfp: string;
  iat: number;
  exp: number;
  /** When the user last proved a credential (RFC 9068 `auth_time`, seconds); absent in older tokens. */
  auth_time?: number;
  /** Not before (seconds), when the token has one. */
  nbf?: number;
  /** The whole verified payload: the library's claims and the app's own. */
  payload: Readonly<Record<string, unknown>>;
}

/** Claims the library writes itself; an app's own claims may not use these names. */
export const RESERVED_CLAIMS: readonly string[] = ['sub', 'sid', 'sfp', 'typ', 'jti', 'iat', 'exp', 'nbf', 'iss', 'aud', 'auth_time'];
/** Largest JSON of an app's claims, in bytes: keeps every access token under `MAX_TOKEN_LENGTH`. */
const MAX_CLAIMS_BYTES = 4096;

/**
 * Access tokens: mints them (`sub`, `sid`, `sfp`, `auth_time`, `jti`, `typ: at+jwt`), verifies them
 * with the pinned algorithm and key, and computes the session-token fingerprint (`sfp`) they carry.
 * Whatever its `exp`, a token is refused once it is older than `accessTtl` (plus the clock
 * tolerance), and when its `iat` lies in the future beyond the tolerance.
 * @internal
 */
@Injectable()
export class AccessTokens {
  private readonly jwt = new JwtService({});
  private readonly verifier: JwtVerifier;

  constructor(@Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions) {
    // RFC 8725 3.10 / 9068: a token older than the lifetime this server issues is refused, whatever its exp.
    this.verifier = new JwtVerifier({ ...config, maxAgeSeconds: this.expiresIn });
  }

  /** Access-token lifetime in whole seconds (the `expiresIn` handed to clients). */
  get expiresIn(): number {
    return Math.floor(this.config.accessTtlMs / 1000);
  }

  /** Keyed fingerprint of a user's session token: what `sfp` carries instead of the token itself. */
  fingerprint(userId: UserId, sessionToken: string): string {
    return hmacFingerprint(this.config.fingerprintKey, `${userId}:${sessionToken}`);
  }

  /** Signs an access token for a session, with the app's claims the session carries. */
  mint(userId: UserId, session: { id: string; sessionTokenFingerprint: string; authTime: number; claims?: Record<string, unknown> | null }): string {
    const { algorithm, signingKey, issuer, audience } = this.config;
    return this.jwt.sign(
      { ...session.claims, sid: session.id, sfp: session.sessionTokenFingerprint, auth_time: Math.floor(session.authTime / 1000) },
      {
        algorithm,
        ...(algorithm.startsWith('HS') ? { secret: jwtKey(signingKey) } : { privateKey: jwtKey(signingKey) }),
        header: { alg: algorithm, typ: ACCESS_TOKEN_TYP },
        subject: String(userId),
        jwtid: randomUUID(), // RFC 9068: every access token is distinct, even two minted in one second
        expiresIn: this.expiresIn,
        ...(issuer ? { issuer } : {}),
        ...(audience ? { audience } : {}),
      },
    );
  }

  /** Verifies an access token; null for anything that is not a valid token of this library. */
  verify(token: unknown, ignoreExpiration = false): AccessClaims | null {
    const decoded = this.verifier.verify(token, ignoreExpiration);
    const payload = decoded?.payload;
    if (!payload || decoded.header?.typ !== ACCESS_TOKEN_TYP) return null;
    const { sub, sid, sfp, iat, exp, auth_time, nbf } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof sfp !== 'string') return null;
    if (typeof exp !== 'number' || typeof iat !== 'number' || !isSessionId(sid)) return null;
    if (iat > Date.now() / 1000 + this.config.clockToleranceSeconds) return null; // issued in the future
    if (auth_time !== undefined && typeof auth_time !== 'number') return null;
    return { sub, sid, sfp, iat, exp, ...(auth_time !== undefined ? { auth_time } : {}), ...(typeof nbf === 'number' ? { nbf } : {}), payload };
  }

  /**
   * Whether a token {@link verify} accepted is still within its time claims at `nowMs`, judged as
   * verification judges them (`exp`, `nbf` and the `accessTtl` age limit on `iat`, with the clock
   * tolerance): what a cache hit re-checks, since everything else verification decided holds for
   * that very string for good (a future `iat` only gets older).
   */
  timesValid(claims: Pick<AccessClaims, 'iat' | 'exp' | 'nbf'>, nowMs: number, ignoreExpiration = false): boolean {
    const now = Math.floor(nowMs / 1000);
    const tolerance = this.config.clockToleranceSeconds;
    if (claims.nbf !== undefined && claims.nbf > now + tolerance) return false;
    return ignoreExpiration || (now < claims.exp + tolerance && now < claims.iat + this.expiresIn + tolerance);
  }
}

/**
 * The payload of a token whose signature was verified before, decoded again from that very string
 * (a cache hit keeps no claims object: about 400 bytes a token saved). @internal
 */
export function verifiedPayload(token: string): Readonly<Record<string, unknown>> {
  const start = token.indexOf('.') + 1;
  return JSON.parse(Buffer.from(token.slice(start, token.indexOf('.', start)), 'base64url').toString('utf8'));
}

/**
 * An app's own access-token claims (`issue(user, client, { claims })`), checked and copied as JSON
 * will carry them; null when none. A reserved name, a value that is not a plain object or claims
 * too large for a token are programmer errors: a `TypeError` naming the problem, never the values.
 * @internal
 */
export function appClaims(claims: unknown): Record<string, unknown> | null {
  if (claims === undefined || claims === null) return null;
  const prototype = typeof claims === 'object' ? Object.getPrototypeOf(claims) : undefined;
  if (prototype !== Object.prototype && prototype !== null) throw new TypeError('claims must be a plain object of JSON values');
  const reserved = Object.keys(claims).filter((name) => RESERVED_CLAIMS.includes(name));
  if (reserved.length > 0) {
    throw new TypeError(`claim${reserved.length > 1 ? 's' : ''} ${reserved.map((n) => `'${n}'`).join(', ')} cannot be set by the app: the library writes ${RESERVED_CLAIMS.join(', ')}`);
  }
  let json: string;
  try {
    json = JSON.stringify(claims);
  } catch {
    throw new TypeError('claims must be JSON-serializable');
  }
  if (Buffer.byteLength(json) > MAX_CLAIMS_BYTES) throw new TypeError(`claims must stay under ${MAX_CLAIMS_BYTES} bytes of JSON (an access token is refused over ${MAX_TOKEN_LENGTH} characters)`);
  const copy = JSON.parse(json) as Record<string, unknown>;
  return Object.keys(copy).length > 0 ? copy : null;
}

/**
 * Verifies JWTs with one pinned algorithm and key (`exp`, `nbf`, `iss`, `aud` as configured; `iat`
 * older than `maxAgeSeconds` unless expiration is ignored): null for anything that does not
 * verify, over-long tokens included. The verify options are built once, here: a `JwtService`
 * with them as its defaults per `ignoreExpiration` value, called without per-call options. @internal
 */
export class JwtVerifier {
  private readonly strict: JwtService;
  private readonly lenient: JwtService;

  constructor(options: {
    algorithm: string;
    verifyKey: KeyObject;
    issuer?: string;
    audience?: string;
    clockToleranceSeconds: number;
    /** Refuse tokens whose `iat` is older than this (plus the tolerance), whatever their `exp`. */
    maxAgeSeconds?: number;
  }) {
    const { algorithm, verifyKey, issuer, audience, maxAgeSeconds } = options;
    const key = algorithm.startsWith('HS') ? { secret: jwtKey(verifyKey) } : { publicKey: jwtKey(verifyKey) };
    const verifyOptions = {
      algorithms: [algorithm as SessionJwtAlgorithm],
      complete: true,
      clockTolerance: options.clockToleranceSeconds,
      ...(issuer ? { issuer } : {}),
      ...(audience ? { audience } : {}),
    };
    this.strict = new JwtService({ ...key, verifyOptions: { ...verifyOptions, ignoreExpiration: false, ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}) } });
    this.lenient = new JwtService({ ...key, verifyOptions: { ...verifyOptions, ignoreExpiration: true } });
  }

  verify(token: unknown, ignoreExpiration = false): { header?: { typ?: unknown }; payload?: Record<string, unknown> } | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    try {
      return (ignoreExpiration ? this.lenient : this.strict).verify(token);
    } catch {
      return null;
    }
  }
}

/** Whether a value has the session id format the library issues. @internal */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}
