import type { RevocationMessage } from '../cache/revocation-cache.js';
import { parseRevocationMessage, type RevocationBus, type RevocationBusHandlers } from './revocation-bus.js';

/** Redis pub/sub bus (ioredis, reconnects with capped exponential backoff). @internal */
export class RedisRevocationBus implements RevocationBus {
  private publisher?: any;
  private subscriber?: any;

  constructor(
    private readonly url: string,
    private readonly channel: string,
  ) {}

  async start(handlers: RevocationBusHandlers): Promise<void> {
    const { Redis } = (await import('ioredis')) as any;
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2000),
    };
    this.publisher = new Redis(this.url, options);
    this.subscriber = new Redis(this.url, options);
    let up = false;
    const setUp = (value: boolean) => {
      if (value !== up) {
        up = value;
        handlers.health(value);
      }
    };
    this.subscriber.on('message', (_channel: string, payload: string) => {
      const message = parseRevocationMessage(payload);
      if (message) handlers.message(message);
    });
    this.subscriber.on('ready', () => {
      // Subscribed again after a reconnect (ioredis re-subscribes automatically).
      this.subscriber.subscribe(this.channel).then(() => setUp(true), () => setUp(false));
    });
    this.subscriber.on('close', () => setUp(false));
    this.subscriber.on('error', () => setUp(false));
    this.publisher.on('error', () => undefined);
    await Promise.all([this.publisher.connect().catch(() => undefined), this.subscriber.connect().catch(() => undefined)]);
  }

  async publish(message: RevocationMessage): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(message));
  }

  async close(): Promise<void> {
    this.subscriber?.removeAllListeners('close');
    this.subscriber?.disconnect();
    this.publisher?.disconnect();
  }
}
