import { Inject, Logger, Module, Optional, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { RevocationNotifier } from './bus/revocation-notifier.js';
import { ConfigurableModuleClass } from './session-revocation.module-definition.js';
import { SESSION_REVOCATION_EXPORTS, SESSION_REVOCATION_PROVIDERS } from './session-revocation.providers.js';
import { LOGGER_CONTEXT, SESSION_DATA_SOURCE } from './session-revocation.constants.js';
import { SessionStore } from './storage/session-store.interface.js';
import { SessionTokenSubscriber } from './typeorm/session-token.subscriber.js';
import { TypeOrmSessionStore } from './typeorm/typeorm-session.store.js';

/**
 * Makes JWT sessions revocable. Import it once with `forRoot(options)` or
 * `forRootAsync({ useFactory, inject, imports })`; it uses the application's TypeORM
 * DataSource (the `dataSource` option or the default one) and never opens its own.
 * Extras: `isGlobal` (default false) and `mountGuard` (default true: {@link SessionGuard}
 * becomes a global `APP_GUARD`).
 */
@Module({
  providers: SESSION_REVOCATION_PROVIDERS,
  exports: SESSION_REVOCATION_EXPORTS,
})
export class SessionRevocationModule extends ConfigurableModuleClass implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private removeListener?: () => void;

  /** @internal */
  constructor(
    @Optional() @Inject(SESSION_DATA_SOURCE) private readonly dataSource?: DataSource | null,
    @Optional() private readonly notifier?: RevocationNotifier,
    @Optional() @Inject(SessionStore) private readonly store?: SessionStore,
  ) {
    super();
  }

  /** Registers the TypeORM subscriber (default store) and connects the revocation bus. @internal */
  async onModuleInit(): Promise<void> {
    if (!this.notifier) return;
    const notifier = this.notifier;
    if (this.dataSource && this.store instanceof TypeOrmSessionStore) {
      this.removeListener = SessionTokenSubscriber.register(this.dataSource).onChange((userId) => {
        void notifier.revoke(userId === undefined ? { t: 'all' } : { t: 'user', id: userId });
      });
    }
    await notifier.start();
    this.logger.log('session revocation ready');
  }

  /**
   * Disconnects the bus. This runs before any `onApplicationShutdown` hook, so before
   * TypeORM destroys the DataSource: the LISTEN/NOTIFY bus holds one of its pool's
   * connections, and destroying a pool waits for every connection to come back (with
   * `isGlobal` the module order would otherwise make `app.close()` hang). @internal
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.notifier?.close();
  }

  /** Stops listening to TypeORM writes. @internal */
  async onApplicationShutdown(): Promise<void> {
    this.removeListener?.();
    this.removeListener = undefined;
  }
}
