import { HttpException, HttpStatus, Inject, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SAMPLE_CONFIG, type SampleConfig } from '../config.js';

/** Length of one counting window. */
const WINDOW_MS = 60_000;

/**
 * Counts requests per client IP in fixed one-minute windows, for all the auth routes together.
 * In memory, in this process: several instances each count their own share. Entries of past
 * windows are swept as the map grows, so it holds about the addresses seen in the last minute.
 */
@Injectable()
export class AuthRateLimiter {
  private readonly windows = new Map<string, { start: number; hits: number }>();
  private sweepAt = 1_000;
  /** Requests a minute per IP; 0: no limit (`AUTH_RATE_LIMIT_PER_IP`). */
  private readonly limit: number;

  constructor(@Inject(SAMPLE_CONFIG) config: SampleConfig) {
    this.limit = config.authRateLimitPerIp;
  }

  /** Counts one request of `ip`: 0 when it may pass, else the seconds until its window ends. */
  hit(ip: string | undefined, now = Date.now()): number {
    if (this.limit === 0) return 0;
    const key = clientKey(ip);
    let window = this.windows.get(key);
    if (!window || now - window.start >= WINDOW_MS) {
      if (this.windows.size >= this.sweepAt) this.sweep(now);
      window = { start: now, hits: 0 };
      this.windows.set(key, window);
    }
    window.hits++;
    return window.hits > this.limit ? Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000)) : 0;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (now - window.start >= WINDOW_MS) this.windows.delete(key);
    this.sweepAt = Math.max(1_000, this.windows.size * 2);
  }
}

/**
 * The per-IP limit of the auth routes: past `AUTH_RATE_LIMIT_PER_IP` requests in a minute from
 * one IP, `429 {statusCode, message, error}` with `Retry-After` (seconds) until the minute is
 * over. The IP is the socket's (`request.ip`; behind a proxy, set Express's `trust proxy`).
 *
 * A small limiter of its own rather than `@nestjs/throttler`: that package is CommonJS and
 * `require()`s Nest 12's ESM-only `@nestjs/common`, which Node 20 allows but Jest's module
 * runtime does not (before Node 24.9), so the sample could not be tested with it.
 *
 * It answers floods from one address; guessing one account's password from many addresses is
 * the per-account back-off's job (see UsersService.verifyCredentials).
 */
@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  constructor(private readonly limiter: AuthRateLimiter) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const retryAfter = this.limiter.hit(http.getRequest<Request>().ip);
    if (retryAfter === 0) return true;
    http.getResponse<Response>().setHeader('Retry-After', String(retryAfter));
    throw new HttpException(
      { statusCode: HttpStatus.TOO_MANY_REQUESTS, message: `Too many sign-in requests from this address: try again in ${retryAfter} s`, error: 'Too Many Requests' },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/** Puts a route under the per-IP auth limit ({@link AuthRateLimitGuard}). */
export const AuthRateLimit = () => UseGuards(AuthRateLimitGuard);

/** The counting key of an address: IPv4 as is (also when IPv4-mapped), IPv6 by its /64 (one host's whole range). */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const address = ip.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  const [head, tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => (parseInt(group, 16) || 0).toString(16)).join(':')}::/64`;
}
