import { Inject, Logger, Module, Optional, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PostgresRevocationBus } from './bus/postgres-revocation-bus.js';
import { RedisRevocationBus } from './bus/redis-revocation-bus.js';
import { RevocationCache } from './cache/revocation-cache.js';
import { RevocationNotifier } from './bus/revocation-notifier.js';
import { DataSource } from 'typeorm';
import type { SessionRevocationModuleOptions } from './interfaces/session-revocation-options.interface.js';
import { resolveOptions, SessionRevocationConfigError, type ResolvedSessionRevocationOptions } from './session-revocation-options.js';
import { SessionEvents } from './core/session-events.js';
import { ConfigurableModuleClass, SESSION_REVOCATION_MODULE_OPTIONS } from './session-revocation.module-definition.js';
import { LOGGER_CONTEXT, SESSION_DATA_SOURCE, SESSION_REVOCATION_CONFIG } from './session-revocation.constants.js';
import { SessionGuard } from './session.guard.js';
import { SessionService } from './session.service.js';
import { SessionStore } from './typeorm/typeorm-session.store.js';
import { SessionTokenSubscriber } from './typeorm/session-token.subscriber.js';

/**
 * Makes JWT sessions revocable. Import it once with `forRoot(options)` or
 * `forRootAsync({ useFactory, inject, imports })`; it uses the application's TypeORM
 * DataSource (the `dataSource` option or the default one) and never opens its own.
 * Extras: `isGlobal` (default false) and `mountGuard` (default true: {@link SessionGuard}
 * becomes a global `APP_GUARD`).
 */
@Module({
  providers: [
    {
      provide: SESSION_REVOCATION_CONFIG,
      useFactory: (options: SessionRevocationModuleOptions) => resolveOptions(options),
      inject: [SESSION_REVOCATION_MODULE_OPTIONS],
    },
    {
      provide: SESSION_DATA_SOURCE,
      useFactory: (config: ResolvedSessionRevocationOptions, appDataSource?: DataSource) => {
        const dataSource = config.options.dataSource ?? appDataSource;
        if (!dataSource) {
          throw new SessionRevocationConfigError('dataSource', 'is missing and no TypeORM DataSource is registered (use TypeOrmModule.forRoot or pass dataSource)');
        }
        return dataSource;
      },
      inject: [SESSION_REVOCATION_CONFIG, { token: DataSource, optional: true }],
    },
    {
      provide: SessionStore,
      useFactory: (config: ResolvedSessionRevocationOptions, dataSource: DataSource) => {
        if (!dataSource.isInitialized) {
          throw new SessionRevocationConfigError('dataSource', 'must be initialized before the module starts');
        }
        return new SessionStore(dataSource, config.options.userEntity as Function);
      },
      inject: [SESSION_REVOCATION_CONFIG, SESSION_DATA_SOURCE],
    },
    {
      provide: SessionEvents,
      useFactory: (config: ResolvedSessionRevocationOptions) => new SessionEvents(config.options.eventEmitter),
      inject: [SESSION_REVOCATION_CONFIG],
    },
    {
      provide: RevocationNotifier,
      useFactory: (config: ResolvedSessionRevocationOptions, dataSource: DataSource) => {
        const cache = new RevocationCache(config.cacheMax, config.cacheTtlMs, config.cacheMax > 0);
        const bus =
          config.bus?.kind === 'redis'
            ? new RedisRevocationBus(config.bus.url, config.bus.channel)
            : config.bus?.kind === 'postgres'
              ? new PostgresRevocationBus(dataSource, config.bus.channel)
              : undefined;
        return new RevocationNotifier(cache, bus);
      },
      inject: [SESSION_REVOCATION_CONFIG, SESSION_DATA_SOURCE],
    },
    SessionService,
    SessionGuard,
  ],
  exports: [SessionService, SessionGuard, SESSION_REVOCATION_CONFIG, SESSION_DATA_SOURCE],
})
export class SessionRevocationModule extends ConfigurableModuleClass implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private removeListener?: () => void;

  /** @internal */
  constructor(
    @Optional() @Inject(SESSION_DATA_SOURCE) private readonly dataSource?: DataSource,
    @Optional() private readonly notifier?: RevocationNotifier,
  ) {
    super();
  }

  /** Registers the TypeORM subscriber and connects the revocation bus. @internal */
  async onModuleInit(): Promise<void> {
    if (!this.dataSource || !this.notifier) return;
    const notifier = this.notifier;
    this.removeListener = SessionTokenSubscriber.register(this.dataSource).onChange((userId) => {
      void notifier.revoke(userId === undefined ? { t: 'all' } : { t: 'user', id: userId });
    });
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
