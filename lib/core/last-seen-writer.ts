import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { LOGGER_CONTEXT } from '../session-revocation.constants.js';
import { describeError } from '../session-revocation.errors.js';
import { SessionStore } from '../storage/session-store.interface.js';

/** Longest time a recorded use waits before it is written (ms). */
export const LAST_SEEN_FLUSH_MS = 1000;
/** Most uses kept while the store cannot take them; past that the oldest batch is dropped. */
const MAX_PENDING = 100_000;

/**
 * Writes `lastSeenAt` off the request path: a request that should move its session's `lastSeenAt`
 * (at most once per `lastSeenInterval`) records it here, and every recorded use is written within
 * {@link LAST_SEEN_FLUSH_MS} by one `touchSessions` call for the whole batch, and on shutdown.
 *
 * A batch is written with its earliest time, so a stored `lastSeenAt` is never later than the
 * request it stands for: the idle timeout can only end a session up to that much earlier, never
 * extend one. The stored value lags the last request by at most `lastSeenInterval` + 1 s; this
 * instance's own checks see the recorded value at once ({@link pendingAt}). A failed write is
 * logged once and retried with the next batch.
 * @internal
 */
@Injectable()
export class LastSeenWriter implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private pending = new Map<string, number>();
  private writing = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(@Inject(SessionStore) private readonly store: SessionStore) {}

  /** Records a use of a session at `at` (ms); written with the next batch. */
  record(sessionId: string, at: number): void {
    if (!this.pending.has(sessionId)) this.pending.set(sessionId, at);
    this.schedule();
  }

  /** Moves a stored session's `lastSeenAt` to a use recorded here and not written yet, when that is later. */
  applyTo(session: { id: string; lastSeenAt: number }): void {
    const pending = this.pending.get(session.id) ?? this.writing.get(session.id);
    if (pending !== undefined && pending > session.lastSeenAt) session.lastSeenAt = pending;
  }

  /** Writes what is recorded now (one batch at a time); resolves when it is written or failed. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /** Writes the last uses before the app's DataSource closes. @internal */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = (this.writing = this.pending);
    this.pending = new Map();
    let at = Infinity;
    for (const time of batch.values()) if (time < at) at = time;
    try {
      await this.store.touchSessions([...batch.keys()], at);
      if (this.failing) this.logger.log('lastSeenAt writes work again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.logger.warn(`lastSeenAt of ${batch.size} session(s) could not be written (${describeError(error)}): retrying with the next batch`);
      this.failing = true;
      if (batch.size + this.pending.size <= MAX_PENDING) {
        for (const [id, time] of batch) if (!(this.pending.get(id)! <= time)) this.pending.set(id, time);
        this.schedule();
      }
    } finally {
      this.writing = new Map();
    }
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), LAST_SEEN_FLUSH_MS);
    this.timer.unref?.();
  }
}
