import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import type { UserId } from '../interfaces/session-context.interface.js';
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
}

/**
 * Access tokens: mints them (`sub`, `sid`, `sfp`, `jti`, `typ: at+jwt`), verifies them with the
 * pinned algorithm and key, and computes the session-token fingerprint (`sfp`) they carry.
 * @internal
 */
@Injectable()
export class AccessTokens {
  private readonly jwt = new JwtService({});

  constructor(@Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions) {}

  /** Access-token lifetime in whole seconds (the `expiresIn` handed to clients). */
  get expiresIn(): number {
    return Math.floor(this.config.accessTtlMs / 1000);
  }

  /** Keyed fingerprint of a user's session token: what `sfp` carries instead of the token itself. */
  fingerprint(userId: UserId, sessionToken: string): string {
    return hmacFingerprint(this.config.fingerprintKey, `${userId}:${sessionToken}`);
  }

  /** Signs an access token for a session. */
  mint(userId: UserId, session: { id: string; sessionTokenFingerprint: string }): string {
    const { algorithm, signingKey, issuer, audience } = this.config;
    return this.jwt.sign(
      { sid: session.id, sfp: session.sessionTokenFingerprint },
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
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    const { algorithm, verifyKey, issuer, audience, clockToleranceSeconds } = this.config;
    let decoded: { header?: { typ?: unknown }; payload?: Record<string, unknown> };
    try {
      decoded = this.jwt.verify(token, {
        algorithms: [algorithm],
        ...(algorithm.startsWith('HS') ? { secret: jwtKey(verifyKey) } : { publicKey: jwtKey(verifyKey) }),
        complete: true,
        ignoreExpiration,
        clockTolerance: clockToleranceSeconds,
        ...(issuer ? { issuer } : {}),
        ...(audience ? { audience } : {}),
      }) as typeof decoded;
    } catch {
      return null;
    }
    const payload = decoded?.payload;
    if (!payload || decoded.header?.typ !== ACCESS_TOKEN_TYP) return null;
    const { sub, sid, sfp, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof sfp !== 'string') return null;
    if (typeof exp !== 'number' || typeof iat !== 'number' || !isSessionId(sid)) return null;
    return { sub, sid, sfp, iat, exp };
  }
}

/** Whether a value has the session id format the library issues. @internal */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}
