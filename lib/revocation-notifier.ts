import { Logger } from '@nestjs/common';
import type { RevocationBus } from './bus/revocation-bus.js';
import { RevocationCache, type RevocationMessage } from './cache/revocation-cache.js';
import { LOGGER_CONTEXT } from './session-revocation.constants.js';

/**
 * Applies revocations to this instance's cache before the revoking call returns, and
 * announces them on the bus (if any) so every other instance drops them too. While the bus
 * is down the cache is bypassed: every request is checked against the database.
 * @internal
 */
export class RevocationNotifier {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private busUp = false;
  private readonly listeners = new Set<(message: RevocationMessage) => void>();

  constructor(
    readonly cache: RevocationCache,
    private readonly bus?: RevocationBus,
    private readonly onMessage?: (message: RevocationMessage) => void,
  ) {
    if (bus) cache.setBypass(true);
  }

  async start(): Promise<void> {
    if (!this.bus) return;
    await this.bus.start({
      message: (message) => this.apply(message),
      health: (up) => {
        if (up === this.busUp) return;
        this.busUp = up;
        this.cache.setBypass(!up);
        if (up) this.logger.log('revocation bus connected: per-request checks served from cache');
        else this.logger.warn('revocation bus down: checking the database on every request until it reconnects');
      },
    });
  }

  /** Drops the revoked entries here, then tells the other instances. */
  async revoke(message: RevocationMessage): Promise<void> {
    this.apply(message);
    if (!this.bus) return;
    try {
      await this.bus.publish(message);
    } catch (error) {
      this.logger.error(`revocation could not be published (other instances see it within the cache TTL): ${(error as Error)?.message}`);
    }
  }

  /** Listens to every revocation applied here (local or from the bus); returns the removal. */
  subscribe(listener: (message: RevocationMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.bus?.close();
  }

  private apply(message: RevocationMessage): void {
    this.cache.apply(message);
    this.onMessage?.(message);
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (error) {
        this.logger.error(`revocation listener failed: ${(error as Error)?.message}`);
      }
    }
  }
}
