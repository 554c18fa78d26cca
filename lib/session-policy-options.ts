import type { SessionLimitPolicy, SessionRevocationModuleOptions } from './interfaces/session-revocation-options.interface.js';
import { SessionRevocationConfigError } from './session-revocation.errors.js';
import { parseDuration } from './utils/duration.js';

const SECOND = 1000;
const DAY = 86_400_000;

/** Upper bounds of the lifetimes and tolerances (refused at startup beyond them). @internal */
export const OPTION_LIMITS = {
  accessTtlMs: 3_600_000,
  refreshTtlMs: 400 * DAY,
  sessionMaxAgeMs: 400 * DAY,
  clockToleranceSeconds: 300,
} as const;

/** Distinct byte values a secret must have at least. @internal */
export const MIN_DISTINCT_SECRET_BYTES = 8;

/** The session policy part of the resolved options (limits, idle timeout, throttling, pruning, audit). */
export interface ResolvedSessionPolicy {
  /** A session unused this long is over. */
  idleTimeoutMs: number;
  /** Most live sessions per user; undefined: no limit. */
  maxSessionsPerUser: number | undefined;
  /** What a login past the limit does. */
  sessionLimitPolicy: SessionLimitPolicy;
  /** Failed-login throttling. */
  loginAttempts: {
    freeAttempts: number;
    maxDelayMs: number;
    windowMs: number;
    perIp: { max: number; windowMs: number } | null;
  };
  /** Periodic pruning; null when off. */
  prune: { everyMs: number; retainMs: number } | null;
  /** The activity log; null when off. */
  audit: { retainMs: number } | null;
}

/** A duration option in ms (the fallback when unset), refused when invalid or above `maxMs`. @internal */
export function durationOption(option: string, value: string | number | undefined, fallback: string, maxMs = Infinity, maxText = ''): number {
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined) throw new SessionRevocationConfigError(option, `must be a duration like '15m' or a number of seconds (got ${JSON.stringify(value)})`);
  if (ms > maxMs) throw new SessionRevocationConfigError(option, `must be at most ${maxText || `${maxMs / SECOND} s`} (got ${JSON.stringify(value)})`);
  return ms;
}

/**
 * Refuses secrets an attacker can guess: fewer than {@link MIN_DISTINCT_SECRET_BYTES} distinct
 * bytes (`'a'.repeat(32)`), or a short unit repeated (`'changeme'.repeat(4)`, `'secret-secret-…'`).
 * The message never contains the secret.
 * @internal
 */
export function assertStrongSecret(option: string, secret: string | Buffer): void {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (new Set(bytes).size < MIN_DISTINCT_SECRET_BYTES) {
    throw new SessionRevocationConfigError(option, `has fewer than ${MIN_DISTINCT_SECRET_BYTES} distinct bytes: use 32+ random bytes (e.g. openssl rand -base64 48)`);
  }
  if (smallestPeriod(bytes) <= bytes.length / 2) {
    throw new SessionRevocationConfigError(option, 'is a short value repeated (a placeholder?): use 32+ random bytes (e.g. openssl rand -base64 48)');
  }
}

/** The smallest p with bytes[i] === bytes[i + p] for every i (KMP failure function). */
function smallestPeriod(bytes: Buffer): number {
  const border = new Array<number>(bytes.length).fill(0);
  for (let i = 1, k = 0; i < bytes.length; i++) {
    while (k > 0 && bytes[i] !== bytes[k]) k = border[k - 1];
    if (bytes[i] === bytes[k]) k++;
    border[i] = k;
  }
  return bytes.length - (border[bytes.length - 1] ?? 0);
}

/** Validates the session policy options against the lifetimes; throws {@link SessionRevocationConfigError}. @internal */
export function resolveSessionPolicy(
  options: SessionRevocationModuleOptions,
  lifetimes: { sessionMaxAgeMs: number; lastSeenIntervalMs: number },
): ResolvedSessionPolicy {
  const idleTimeoutMs = durationOption('idleTimeout', options.idleTimeout, '30m', lifetimes.sessionMaxAgeMs, 'jwt.sessionMaxAge');
  if (lifetimes.lastSeenIntervalMs >= idleTimeoutMs) {
    throw new SessionRevocationConfigError('lastSeenInterval', `must be shorter than idleTimeout (${idleTimeoutMs / SECOND} s): the idle check reads the lastSeenAt it writes`);
  }
  const max = options.maxSessionsPerUser;
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 10_000)) {
    throw new SessionRevocationConfigError('maxSessionsPerUser', 'must be an integer from 1 to 10000');
  }
  const policy = options.sessionLimitPolicy ?? 'evict-oldest';
  if (policy !== 'evict-oldest' && policy !== 'refuse') throw new SessionRevocationConfigError('sessionLimitPolicy', "must be 'evict-oldest' or 'refuse'");

  const attempts = options.loginAttempts ?? {};
  const freeAttempts = attempts.freeAttempts ?? 3;
  if (!Number.isInteger(freeAttempts) || freeAttempts < 0 || freeAttempts > 100) {
    throw new SessionRevocationConfigError('loginAttempts.freeAttempts', 'must be an integer from 0 to 100');
  }
  let perIp: ResolvedSessionPolicy['loginAttempts']['perIp'] = null;
  if (attempts.perIp !== false) {
    const ip = attempts.perIp ?? { max: 100 };
    if (!Number.isInteger(ip.max) || ip.max < 1) throw new SessionRevocationConfigError('loginAttempts.perIp.max', 'must be a positive integer');
    perIp = { max: ip.max, windowMs: durationOption('loginAttempts.perIp.window', ip.window, '15m', DAY, '1d') };
  }

  let prune: ResolvedSessionPolicy['prune'] = null;
  if (options.prune !== undefined) {
    if (!options.prune || typeof options.prune !== 'object') throw new SessionRevocationConfigError('prune', "must be an object like { every: '1h', retain: '30d' }");
    prune = {
      everyMs: durationOption('prune.every', options.prune.every, '1h', 7 * DAY, '7d'),
      retainMs: durationOption('prune.retain', options.prune.retain, '30d', 3650 * DAY, '3650d'),
    };
  }
  let audit: ResolvedSessionPolicy['audit'] = null;
  if (options.audit !== undefined && options.audit !== false) {
    const retain = options.audit === true ? undefined : options.audit?.retain;
    audit = { retainMs: durationOption('audit.retain', retain, '90d', 3650 * DAY, '3650d') };
  }
  return {
    idleTimeoutMs,
    maxSessionsPerUser: max,
    sessionLimitPolicy: policy,
    loginAttempts: {
      freeAttempts,
      maxDelayMs: durationOption('loginAttempts.maxDelay', attempts.maxDelay, '15m', DAY, '1d'),
      windowMs: durationOption('loginAttempts.window', attempts.window, '24h', 30 * DAY, '30d'),
      perIp,
    },
    prune,
    audit,
  };
}
