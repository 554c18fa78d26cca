import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { describeError } from '../session-revocation.errors.js';
import { SessionStore, type PruneCounts, type PruneCutoff } from '../storage/session-store.interface.js';
import { parseDuration } from '../utils/duration.js';

/** Options of `SessionService.prune`. */
export interface PruneOptions {
  /**
   * Delete sessions that have been over (ended, expired, idle) for longer than this, e.g.
   * `'30d'` or seconds. Default: the `prune.retain` option, else `'30d'`.
   */
  olderThan?: string | number;
}

/** Rows deleted per statement. */
export const PRUNE_BATCH_SIZE = 500;
/** Batches one pruning run makes at most (the next run goes on). */
const MAX_BATCHES = 1000;
const DEFAULT_RETAIN_MS = 30 * 86_400_000;
const DEFAULT_EVERY_MS = 3_600_000;

/**
 * Keeps the store's state bounded (ASVS 7.3, DESIGN invariant 12): deletes sessions that have
 * been over for `retain`, with all their refresh tokens, refresh tokens expired as long, failed-
 * attempt series that no longer count, and activity entries past `audit.retain`, in bounded
 * batches. Periodically (`prune.every`, or hourly for the attempt counters and the activity
 * log), on one instance at a time (`SessionStore.runExclusive`: a database advisory lock).
 *
 * Reuse detection is unaffected for every session still stored: a session's used refresh tokens
 * go only with the session itself, or once they expired `retain` ago (they could never be
 * accepted again). A token of a pruned session is answered as unknown (401), not as reuse.
 * @internal
 */
@Injectable()
export class SessionPruner implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
  ) {}

  onModuleInit(): void {
    const every = this.config.prune?.everyMs ?? DEFAULT_EVERY_MS;
    this.timer = setInterval(() => void this.runPeriodic(), every);
    this.timer.unref?.();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One periodic run, skipped when another instance is running one; failures are logged. */
  async runPeriodic(): Promise<PruneCounts | undefined> {
    let counts: PruneCounts | undefined;
    try {
      await this.store.runExclusive('prune', async () => {
        counts = await this.run(this.cutoff(Date.now(), this.config.prune?.retainMs));
      });
    } catch (error) {
      this.logger.error(`pruning failed: ${describeError(error)}`);
    }
    return counts;
  }

  /** `SessionService.prune`: sessions, refresh tokens, attempt counters, activity past retention. */
  async prune(options: PruneOptions = {}): Promise<PruneCounts> {
    const retainMs = options.olderThan === undefined ? (this.config.prune?.retainMs ?? DEFAULT_RETAIN_MS) : parseDuration(options.olderThan);
    if (retainMs === undefined) throw new RangeError(`prune: olderThan must be a duration like '30d' or a number of seconds (got ${JSON.stringify(options.olderThan)})`);
    return this.run(this.cutoff(Date.now(), retainMs));
  }

  /** The cutoff of a run; sessions are kept (cutoff 0) when `retainMs` is undefined (periodic pruning off). */
  private cutoff(now: number, retainMs: number | undefined): PruneCutoff {
    const { loginAttempts, audit, idleTimeoutMs } = this.config;
    const attemptsWindow = Math.max(loginAttempts.windowMs, loginAttempts.perIp?.windowMs ?? 0, loginAttempts.maxDelayMs);
    return {
      before: retainMs === undefined ? 0 : now - retainMs,
      lastSeenBefore: retainMs === undefined ? 0 : now - retainMs - idleTimeoutMs,
      attemptsBefore: now - attemptsWindow,
      activityBefore: audit ? now - audit.retainMs : undefined,
    };
  }

  private async run(cutoff: PruneCutoff): Promise<PruneCounts> {
    const total: PruneCounts = { sessions: 0, refreshTokens: 0, attempts: 0, activity: 0 };
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const counts = await this.store.prune(cutoff, PRUNE_BATCH_SIZE);
      for (const kind of Object.keys(total) as Array<keyof PruneCounts>) total[kind] += counts[kind];
      if (Object.values(counts).every((n) => n < PRUNE_BATCH_SIZE)) break;
    }
    if (Object.values(total).some((n) => n > 0)) {
      this.logger.log(`pruned ${total.sessions} sessions, ${total.refreshTokens} refresh tokens, ${total.attempts} attempt counters, ${total.activity} activity entries`);
    }
    return total;
  }
}
