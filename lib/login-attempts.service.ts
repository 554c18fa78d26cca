import { Inject, Injectable } from '@nestjs/common';
import { SessionEvents } from './core/session-events.js';
import type { UserId } from './interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from './session-revocation-options.js';
import { SESSION_REVOCATION_CONFIG } from './session-revocation.constants.js';
import { TooManyAttemptsError } from './session-revocation.errors.js';
import { SessionStore, type AttemptRecord } from './storage/session-store.interface.js';
import { clientAddressKey } from './utils/client-address.js';
import { hmacFingerprint } from './utils/crypto.js';

/** One password check the app is about to make, or just made. */
export interface LoginAttempt {
  /** The account tried: the email or user name as typed (trimmed and lower-cased for counting). */
  account: string;
  /** The client's IP (`request.ip`), for the per-IP limit and the event. */
  ip?: string;
  /** The client's user agent, for the event. */
  userAgent?: string;
  /** The user, when the account exists: the `login-failed` event then reaches their activity log. */
  userId?: UserId;
}

/**
 * Throttles the password checks an app makes itself (login, re-authentication, "current
 * password" fields), in the session store so that it holds across instances (ASVS 6.3.1):
 *
 * - per account, a soft back-off: after `freeAttempts` failures (default 3) each failure makes
 *   the next try wait 1 s, 2 s, 4 s, ... up to `maxDelay` (15 min). There is no hard lockout
 *   an attacker could trigger for a victim: once the wait is over, the right password works.
 *   A correct password clears the account's count; a series is forgotten `window` (24 h)
 *   after it began.
 * - per IP, at most `perIp.max` failures (100) per `perIp.window` (15 min), all accounts together.
 *
 * A refused try throws {@link TooManyAttemptsError}: the module's filter answers 429 with
 * `Retry-After`. Every failure is emitted (and logged) as a `login-failed` event, never with
 * the password. Counting keys are keyed hashes: the table holds no emails or addresses.
 *
 * ```ts
 * const attempt = { account: dto.email, ip: request.ip };
 * const user = await attempts.attempt(attempt, () => users.verifyCredentials(dto.email, dto.password));
 * if (!user) throw new UnauthorizedException();
 * ```
 */
@Injectable()
export class LoginAttempts {
  /** @internal */
  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly events: SessionEvents,
  ) {}

  /**
   * Runs a password check under the throttle: refuses first when the account or the IP must
   * wait (`TooManyAttemptsError`), then records the outcome. Resolves to what `verify` returned,
   * or null when it returned nothing (a wrong password).
   */
  async attempt<T>(attempt: LoginAttempt, verify: () => Promise<T | null | undefined | false>): Promise<T | null> {
    await this.assertAllowed(attempt);
    const result = await verify();
    if (result === null || result === undefined || result === false) {
      await this.recordFailure(attempt);
      return null;
    }
    await this.recordSuccess(attempt);
    return result;
  }

  /** Throws {@link TooManyAttemptsError} when this account or this IP must wait before the next try. */
  async assertAllowed(attempt: Pick<LoginAttempt, 'account' | 'ip'>): Promise<void> {
    const now = Date.now();
    const { loginAttempts: options } = this.config;
    const account = await this.store.getAttempts(this.accountKey(attempt.account));
    const backoff = account && account.firstAt >= now - options.windowMs ? this.backoffMs(account.failures) : 0;
    // (A failure recorded a moment ago by a concurrent attempt may carry a later time than `now`.)
    if (backoff > 0 && account!.lastAt + backoff > now) throw new TooManyAttemptsError(Math.ceil((account!.lastAt + backoff - now) / 1000), 'account');
    const perIp = options.perIp;
    if (!perIp) return;
    const ip = await this.store.getAttempts(this.ipKey(attempt.ip));
    if (ip && ip.firstAt >= now - perIp.windowMs && ip.failures >= perIp.max) {
      throw new TooManyAttemptsError(Math.max(1, Math.ceil((ip.firstAt + perIp.windowMs - now) / 1000)), 'ip');
    }
  }

  /** Counts a wrong password for the account and the IP, and emits `login-failed`. */
  async recordFailure(attempt: LoginAttempt): Promise<void> {
    const now = Date.now();
    const { loginAttempts: options } = this.config;
    const account: AttemptRecord = await this.store.recordFailedAttempt(this.accountKey(attempt.account), now, now - options.windowMs);
    if (options.perIp) await this.store.recordFailedAttempt(this.ipKey(attempt.ip), now, now - options.perIp.windowMs);
    this.events.emit({
      type: 'login-failed',
      userId: attempt.userId,
      ip: attempt.ip,
      userAgent: attempt.userAgent,
      reason: `failures=${account.failures}`,
    });
  }

  /** Clears the account's failures after a correct password (the IP's count stays). */
  async recordSuccess(attempt: Pick<LoginAttempt, 'account'>): Promise<void> {
    await this.store.clearAttempts(this.accountKey(attempt.account));
  }

  /** The wait after `failures` failures in a row: 0 for the free ones, then 1 s doubling up to `maxDelay`. */
  backoffMs(failures: number): number {
    const { freeAttempts, maxDelayMs } = this.config.loginAttempts;
    if (failures <= freeAttempts) return 0;
    return Math.min(maxDelayMs, 1000 * 2 ** Math.min(failures - freeAttempts - 1, 30));
  }

  private accountKey(account: string): string {
    return `a:${hmacFingerprint(this.config.fingerprintKey, `login-account:${String(account).trim().toLowerCase()}`)}`;
  }

  private ipKey(ip: string | undefined): string {
    return `i:${hmacFingerprint(this.config.fingerprintKey, `login-ip:${clientAddressKey(ip)}`)}`;
  }
}
