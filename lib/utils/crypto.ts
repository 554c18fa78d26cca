import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * A key parsed at startup, typed for `JwtService`: jsonwebtoken accepts `KeyObject`s (and then
 * skips re-parsing the key on every call), while @nestjs/jwt's option types only list strings
 * and Buffers.
 */
export function jwtKey(key: KeyObject): Buffer {
  return key as unknown as Buffer;
}

/** A new per-user session token: 128 bits from the CSPRNG, hex encoded. */
export function newSessionToken(): string {
  return randomBytes(16).toString('hex');
}

/** A new opaque refresh token: 256 bits from the CSPRNG, base64url encoded. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256 of a value, hex encoded: how refresh tokens are stored. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Keyed fingerprint (HMAC-SHA256, 128 bits, base64url) of a message. */
export function hmacFingerprint(key: Buffer, message: string): string {
  return createHmac('sha256', key).update(message).digest().subarray(0, 16).toString('base64url');
}

/** Derives a purpose-bound key from secret material (the raw string or bytes, not a parsed key). */
export function deriveKey(material: string | Buffer, purpose: string): Buffer {
  return createHmac('sha256', material).update(`nestjs-session-revocation:${purpose}`).digest();
}

/** Constant-time comparison of two strings (length is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
