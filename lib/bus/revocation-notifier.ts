import { Logger } from '@nestjs/common';
import type { RevocationBus, RevocationMessage } from './revocation-bus.js';
import { RevocationCache } from '../cache/revocation-cache.js';
import { LOGGER_CONTEXT } from '../session-revocation.constants.js';
import { describeError as describe } from '../session-revocation.errors.js';

/** Tuning of {@link RevocationNotifier}; the defaults are what the module uses. @internal */
export interface RevocationNotifierOptions {
  /** Longest wait for one publish; a publish that takes longer counts as failed and is queued. Default 1000. */
  publishTimeoutMs?: number;
  /** Most messages kept for re-sending; on overflow they collapse into one `{ t: 'all' }`. Default 100. */
  maxPending?: number;
  /** First retry delay of the queue; doubles up to `retryMaxMs`. Default 100. */
  retryMinMs?: number;
  /** Longest retry delay of the queue. Default 2000. */
  retryMaxMs?: number;
}

/**
 * Applies revocations to this instance's cache before the revoking call returns, and
 * announces them on the bus (if any) so every other instance drops them too.
 *
 * The cache is used only while the bus is healthy: connected (the bus reports that) and with
 * nothing left to send. A publish that fails or does not answer within `publishTimeoutMs` is
 * kept in a small bounded queue and re-sent when the bus is ready again (retried with capped
 * backoff meanwhile); the revoking call does not wait for that. Until the queue is empty this
 * instance checks the database on every request. Each outage is logged once, with no message
 * contents.
 * @internal
 */
export class RevocationNotifier {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly listeners = new Set<(message: RevocationMessage) => void>();
  private readonly publishTimeoutMs: number;
  private readonly maxPending: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  /** What the bus last reported about its connections. */
  private busUp = false;
  /** Whether the cache is in use (bus up and nothing pending). */
  private healthy = false;
  private pending: RevocationMessage[] = [];
  private overflowed = false;
  private flushing = false;
  private retryTimer?: NodeJS.Timeout;
  private retryAttempt = 0;
  private closed = false;

  constructor(
    readonly cache: RevocationCache,
    private readonly bus?: RevocationBus,
    private readonly onMessage?: (message: RevocationMessage) => void,
    options: RevocationNotifierOptions = {},
  ) {
    this.publishTimeoutMs = options.publishTimeoutMs ?? 1000;
    this.maxPending = options.maxPending ?? 100;
    this.retryMinMs = options.retryMinMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 2000;
    if (bus) cache.setBypass(true);
  }

  /**
   * Whether revocations made on every instance reach this one now: a bus is configured, connected,
   * and nothing waits to be re-sent. False without a bus. (What decides whether the cache is used.)
   */
  get busHealthy(): boolean {
    return this.healthy;
  }

  /** Messages waiting to be re-sent (for tests and diagnostics). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Connects the bus (if any); the cache is used once it reports itself up. */
  async start(): Promise<void> {
    if (!this.bus) return;
    await this.bus.start({
      message: (message) => this.apply(message),
      health: (up) => {
        if (this.closed) return;
        this.busUp = up;
        if (up && this.pending.length > 0) void this.flush();
        this.updateHealth();
      },
    });
  }

  /**
   * Drops the revoked entries here, then tells the other instances. Resolves once the message
   * is published or queued for re-sending: after at most `publishTimeoutMs`.
   */
  async revoke(message: RevocationMessage): Promise<void> {
    this.apply(message);
    if (!this.bus || this.closed) return;
    if (this.pending.length > 0) {
      // Earlier messages are still waiting: this one joins them (order does not matter, every
      // message only drops entries) and goes out with the next successful flush.
      this.enqueue(message);
      if (!this.flushing && !this.retryTimer) void this.flush();
      return;
    }
    try {
      await this.publishBounded(message);
    } catch (error) {
      if (this.closed) return;
      this.enqueue(message);
      if (this.healthy) this.logger.warn(`revocation could not be published (${describe(error)}): re-sending it when the bus answers; checking the database on every request meanwhile`);
      this.updateHealth();
      this.scheduleRetry();
    }
  }

  /** Listens to every revocation applied here (local or from the bus); returns the removal. */
  subscribe(listener: (message: RevocationMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops re-sending, makes one last bounded attempt for anything queued, and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.bus && this.pending.length > 0) {
      const count = this.pending.length;
      const last: RevocationMessage = count === 1 ? this.pending[0] : { t: 'all' };
      this.pending = [];
      await this.publishBounded(last).catch(() =>
        this.logger.error(`${count} revocation(s) were not published before shutdown: other instances honour them within cache.ttl`),
      );
    }
    await this.bus?.close();
  }

  private enqueue(message: RevocationMessage): void {
    // A queued `{ t: 'all' }` clears every cache when it arrives, after this revocation was
    // written: it covers every later message too.
    if (this.pending.some((m) => m.t === 'all')) return;
    if (message.t === 'all') {
      this.pending = [message];
    } else if (this.pending.length >= this.maxPending) {
      this.pending = [{ t: 'all' }];
      if (!this.overflowed) {
        this.overflowed = true;
        this.logger.warn(`more than ${this.maxPending} revocations waiting for the bus: they will be sent as one 'end every cached entry' message`);
      }
    } else {
      this.pending.push(message);
    }
  }

  /** Sends the queue, oldest first; on a failure it stops and retries later. */
  private async flush(): Promise<void> {
    if (this.flushing || this.closed || !this.bus) return;
    this.flushing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    let sent = 0;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const message = this.pending[0];
        await this.publishBounded(message);
        // The queue may have collapsed into `{ t: 'all' }` meanwhile: only drop what was sent.
        if (this.pending[0] === message) this.pending.shift();
        sent++;
      }
      if (sent > 0 && !this.closed) this.logger.log(`re-sent ${sent} queued revocation(s) on the bus`);
      this.retryAttempt = 0;
      this.overflowed = false;
    } catch {
      this.scheduleRetry();
    } finally {
      this.flushing = false;
      this.updateHealth();
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer || this.pending.length === 0) return;
    const delay = Math.min(this.retryMinMs * 2 ** this.retryAttempt++, this.retryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
    this.retryTimer.unref?.();
  }

  /** Publishes, failing after `publishTimeoutMs` if the bus does not answer. */
  private publishBounded(message: RevocationMessage): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.publishTimeoutMs} ms`)), this.publishTimeoutMs);
    });
    return Promise.race([this.bus!.publish(message), timeout]).finally(() => clearTimeout(timer));
  }

  /** Uses the cache only while the bus is connected and nothing waits to be sent. */
  private updateHealth(): void {
    if (this.closed) return;
    const healthy = this.busUp && this.pending.length === 0;
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    this.cache.setBypass(!healthy);
    if (healthy) this.logger.log('revocation bus connected: per-request checks served from cache');
    else if (!this.busUp) this.logger.warn('revocation bus down: checking the database on every request until it reconnects');
  }

  private apply(message: RevocationMessage): void {
    this.cache.apply(message);
    this.onMessage?.(message);
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (error) {
        this.logger.error(`revocation listener failed: ${describe(error)}`);
      }
    }
  }
}

