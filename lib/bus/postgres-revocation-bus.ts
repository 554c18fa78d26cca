import type { DataSource } from 'typeorm';
import { parseRevocationMessage, type RevocationBus, type RevocationBusHandlers, type RevocationMessage } from './revocation-bus.js';

/** Longest wait for UNLISTEN when the bus closes; then the connection is dropped. @internal */
const CLOSE_TIMEOUT_MS = 1000;

/**
 * PostgreSQL LISTEN/NOTIFY bus. It listens on a dedicated connection taken from the app's
 * DataSource pool (reconnecting with capped exponential backoff, reported down meanwhile) and
 * publishes with `SELECT pg_notify(...)` through the DataSource. The session-token trigger
 * notifies the same channel, so raw SQL changes reach it too. A publish that fails or hangs is
 * bounded, queued and re-sent by the notifier. `close()` must run while the DataSource is still
 * initialized (the module does it in `beforeApplicationShutdown`): a pool being destroyed waits
 * for the listening connection to come back.
 * @internal
 */
export class PostgresRevocationBus implements RevocationBus {
  private client?: any;
  private release?: (error?: unknown) => void;
  private closed = false;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private handlers?: RevocationBusHandlers;
  private detachListeners?: () => void;

  constructor(
    private readonly dataSource: DataSource,
    private readonly channel: string,
  ) {}

  async start(handlers: RevocationBusHandlers): Promise<void> {
    this.handlers = handlers;
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const [client, release] = await (this.dataSource.driver as any).obtainMasterConnection();
      if (this.closed) {
        // Closed while waiting for the pool: hand the connection straight back.
        release();
        return;
      }
      this.client = client;
      this.release = release;
      const onNotification = (n: { channel: string; payload?: string }) => {
        if (n.channel !== this.channel || !n.payload) return;
        const message = parseRevocationMessage(n.payload);
        if (message) this.handlers?.message(message);
      };
      const onLost = () => {
        if (this.client === client) this.lost();
      };
      client.on('notification', onNotification);
      client.on('error', onLost);
      client.on('end', onLost);
      // Taken off again before the connection goes back to the pool.
      this.detachListeners = () => {
        client.off('notification', onNotification);
        client.off('error', onLost);
        client.off('end', onLost);
      };
      await client.query(`LISTEN "${this.channel}"`);
      this.attempt = 0;
      this.handlers?.health(true);
    } catch {
      this.lost();
    }
  }

  private lost(): void {
    if (this.closed || this.timer) return;
    this.handlers?.health(false);
    this.detachListeners?.();
    this.detachListeners = undefined;
    try {
      this.release?.(true);
    } catch {
      /* already gone */
    }
    this.client = undefined;
    this.release = undefined;
    const delay = Math.min(50 * 2 ** this.attempt++, 2000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  async publish(message: RevocationMessage): Promise<void> {
    await this.dataSource.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify(message)]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    const release = this.release;
    this.client = undefined;
    this.release = undefined;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    const unlistened = await Promise.race([
      client.query(`UNLISTEN "${this.channel}"`).then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.detachListeners?.();
    this.detachListeners = undefined;
    try {
      // Back to the pool when it answered; otherwise the connection is destroyed.
      release?.(unlistened ? undefined : true);
    } catch {
      /* already gone */
    }
  }
}
