import type { DataSource } from 'typeorm';
import type { RevocationMessage } from '../cache/revocation-cache.js';
import { parseRevocationMessage, type RevocationBus, type RevocationBusHandlers } from './revocation-bus.js';

/**
 * PostgreSQL LISTEN/NOTIFY bus on a dedicated connection of the app's DataSource pool.
 * The session-token trigger notifies the same channel, so raw SQL changes reach it too.
 * Reconnects with capped exponential backoff. @internal
 */
export class PostgresRevocationBus implements RevocationBus {
  private client?: any;
  private release?: (error?: unknown) => void;
  private closed = false;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private handlers?: RevocationBusHandlers;

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
      this.client = client;
      this.release = release;
      client.on('notification', (n: { channel: string; payload?: string }) => {
        if (n.channel !== this.channel || !n.payload) return;
        const message = parseRevocationMessage(n.payload);
        if (message) this.handlers?.message(message);
      });
      const onLost = () => {
        if (this.client === client) this.lost();
      };
      client.on('error', onLost);
      client.on('end', onLost);
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
    const client = this.client;
    if (client) {
      this.client = undefined;
      try {
        await client.query(`UNLISTEN "${this.channel}"`);
      } catch {
        /* closing anyway */
      }
      this.release?.();
    }
  }
}
