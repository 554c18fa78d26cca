import type { Provider } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { PostgresRevocationBus } from './bus/postgres-revocation-bus.js';
import { RedisRevocationBus } from './bus/redis-revocation-bus.js';
import type { RevocationBus } from './bus/revocation-bus.js';
import { RevocationNotifier } from './bus/revocation-notifier.js';
import { RevocationCache } from './cache/revocation-cache.js';
import { AccessTokens } from './core/access-tokens.js';
import { LegacyTokens } from './core/legacy-tokens.js';
import { RequestAuthenticator } from './core/request-authenticator.js';
import { SessionActivity } from './core/session-activity.js';
import { LastSeenWriter } from './core/last-seen-writer.js';
import { SessionAuthenticator } from './core/session-authenticator.js';
import { SessionConnectionRegistry } from './core/session-connection-registry.js';
import { SessionEvents } from './core/session-events.js';
import { SessionLifecycle } from './core/session-lifecycle.js';
import { SessionLimiter } from './core/session-limiter.js';
import { SessionPruner } from './core/session-pruner.js';
import { SessionRevoker } from './core/session-revoker.js';
import { SessionStepUp } from './core/session-step-up.js';
import { SessionWatcher } from './core/session-watcher.js';
import type { SessionRevocationModuleOptions } from './interfaces/session-revocation-options.interface.js';
import { PassportStrategyAudit } from './passport/passport-strategy.audit.js';
import { SessionErrorFilter } from './session-error.filter.js';
import { resolveOptions, type ResolvedSessionRevocationOptions } from './session-revocation-options.js';
import { SESSION_DATA_SOURCE, SESSION_REVOCATION_BUS, SESSION_REVOCATION_CONFIG } from './session-revocation.constants.js';
import { SessionRevocationConfigError } from './session-revocation.errors.js';
import { SESSION_REVOCATION_MODULE_OPTIONS } from './session-revocation.module-definition.js';
import { FreshSessionGuard } from './fresh-session.guard.js';
import { LoginAttempts } from './login-attempts.service.js';
import { SessionGuard } from './session.guard.js';
import { SessionService } from './session.service.js';
import { SessionStore } from './storage/session-store.interface.js';
import { TypeOrmSessionStore } from './typeorm/typeorm-session.store.js';
import { assertDataSourceSupported } from './typeorm/data-source-checks.js';

/** Whether the options need a TypeORM DataSource (the default store, or the PostgreSQL bus). */
function needsDataSource(config: ResolvedSessionRevocationOptions): boolean {
  return !config.store || config.bus?.kind === 'postgres';
}

/** The module's providers, each built from the resolved options. @internal */
export const SESSION_REVOCATION_PROVIDERS: Provider[] = [
  {
    provide: SESSION_REVOCATION_CONFIG,
    useFactory: (options: SessionRevocationModuleOptions) => resolveOptions(options),
    inject: [SESSION_REVOCATION_MODULE_OPTIONS],
  },
  {
    provide: SESSION_DATA_SOURCE,
    useFactory: (config: ResolvedSessionRevocationOptions, appDataSource?: DataSource): DataSource | null => {
      const dataSource = config.dataSource ?? appDataSource ?? null;
      if (!needsDataSource(config)) return dataSource;
      if (!dataSource) {
        throw new SessionRevocationConfigError('dataSource', 'is missing and no TypeORM DataSource is registered (use TypeOrmModule.forRoot or pass dataSource)');
      }
      if (!dataSource.isInitialized) throw new SessionRevocationConfigError('dataSource', 'must be initialized before the module starts');
      assertDataSourceSupported(dataSource, { userEntity: config.store ? undefined : (config.userEntity as Function), postgresBus: config.bus?.kind === 'postgres' ? 'postgresNotify' : undefined });
      return dataSource;
    },
    inject: [SESSION_REVOCATION_CONFIG, { token: DataSource, optional: true }],
  },
  {
    provide: SessionStore,
    useFactory: (config: ResolvedSessionRevocationOptions, dataSource: DataSource | null): SessionStore =>
      config.store ?? new TypeOrmSessionStore(dataSource!, config.userEntity as Function),
    inject: [SESSION_REVOCATION_CONFIG, SESSION_DATA_SOURCE],
  },
  {
    provide: RevocationCache,
    useFactory: (config: ResolvedSessionRevocationOptions) => new RevocationCache(config.cacheMax, config.cacheTtlMs, config.cacheMax > 0),
    inject: [SESSION_REVOCATION_CONFIG],
  },
  {
    provide: SESSION_REVOCATION_BUS,
    useFactory: (config: ResolvedSessionRevocationOptions, dataSource: DataSource | null): RevocationBus | null => {
      switch (config.bus?.kind) {
        case 'redis':
          return new RedisRevocationBus(config.bus.url, config.bus.channel);
        case 'postgres':
          return new PostgresRevocationBus(dataSource!, config.bus.channel);
        case 'custom':
          return config.bus.bus;
        default:
          return null;
      }
    },
    inject: [SESSION_REVOCATION_CONFIG, SESSION_DATA_SOURCE],
  },
  {
    provide: RevocationNotifier,
    useFactory: (cache: RevocationCache, bus: RevocationBus | null) => new RevocationNotifier(cache, bus ?? undefined),
    inject: [RevocationCache, SESSION_REVOCATION_BUS],
  },
  SessionActivity,
  SessionEvents,
  AccessTokens,
  LastSeenWriter,
  SessionAuthenticator,
  LegacyTokens,
  RequestAuthenticator,
  SessionRevoker,
  SessionLimiter,
  SessionLifecycle,
  SessionStepUp,
  SessionPruner,
  SessionWatcher,
  SessionConnectionRegistry,
  SessionService,
  LoginAttempts,
  SessionGuard,
  PassportStrategyAudit,
  FreshSessionGuard,
  { provide: APP_FILTER, useClass: SessionErrorFilter },
];

/** What the module exports to the app. @internal */
export const SESSION_REVOCATION_EXPORTS = [
  SessionService,
  LoginAttempts,
  SessionGuard,
  FreshSessionGuard,
  SessionAuthenticator,
  RequestAuthenticator,
  SessionConnectionRegistry,
  SessionStore,
  SESSION_REVOCATION_CONFIG,
  SESSION_DATA_SOURCE,
];
