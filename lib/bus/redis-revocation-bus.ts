import { parseRevocationMessage, type RevocationBus, type RevocationBusHandlers, type RevocationMessage } from './revocation-bus.js';

/** How long the publisher waits for Redis to answer one PUBLISH. @internal */
export const REDIS_PUBLISH_TIMEOUT_MS = 1000;

/**
 * Redis pub/sub bus (ioredis): one publishing and one subscribing connection, each reconnecting
 * with capped exponential backoff. It reports itself up only while both are ready (the
 * subscriber subscribed, the publisher able to send), so an instance whose publisher is down
 * stops serving from its cache. A PUBLISH fails fast when the publisher is not connected and
 * after {@link REDIS_PUBLISH_TIMEOUT_MS} when Redis does not answer; the notifier queues and
 * re-sends what failed.
 * @internal
 */
export class RedisRevocationBus implements RevocationBus {
  private publisher?: any;
  private subscriber?: any;
  private subscribed = false;
  private reported?: boolean;
  private closed = false;

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
    const publisher = new Redis(this.url, { ...options, connectionName: 'session-revocation-publisher', commandTimeout: REDIS_PUBLISH_TIMEOUT_MS });
    const subscriber = new Redis(this.url, { ...options, connectionName: 'session-revocation-subscriber', autoResubscribe: false });
    this.publisher = publisher;
    this.subscriber = subscriber;
    const report = () => {
      const up = !this.closed && this.subscribed && publisher.status === 'ready';
      if (up !== this.reported) {
        this.reported = up;
        handlers.health(up);
      }
    };
    subscriber.on('message', (_channel: string, payload: string) => {
      const message = parseRevocationMessage(payload);
      if (message) handlers.message(message);
    });
    subscriber.on('ready', () => {
      // (Re)subscribe on every connection; a message published before this completes is not
      // seen here, which is why the cache stays bypassed until it has.
      subscriber.subscribe(this.channel).then(
        () => {
          this.subscribed = true;
          report();
        },
        () => {
          this.subscribed = false;
          report();
        },
      );
    });
    subscriber.on('close', () => {
      this.subscribed = false;
      report();
    });
    publisher.on('ready', report);
    publisher.on('close', report);
    // Connection errors are followed by 'close' (and a reconnect); ioredis needs a listener.
    subscriber.on('error', () => undefined);
    publisher.on('error', () => undefined);
    await Promise.all([publisher.connect().catch(() => undefined), subscriber.connect().catch(() => undefined)]);
  }

  async publish(message: RevocationMessage): Promise<void> {
    if (!this.publisher) throw new Error('the Redis bus is not started');
    await this.publisher.publish(this.channel, JSON.stringify(message));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const connection of [this.subscriber, this.publisher]) {
      connection?.removeAllListeners('close');
      connection?.removeAllListeners('ready');
      connection?.disconnect();
    }
  }
}
