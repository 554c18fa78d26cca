import { ConfigurableModuleBuilder } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { SessionRevocationModuleOptions } from './interfaces/session-revocation-options.interface.js';
import { SessionGuard } from './session.guard.js';

/** Extras accepted by `forRoot` / `forRootAsync` next to the module options. */
export interface SessionRevocationModuleExtras {
  /** Register the module globally. Default false. */
  isGlobal?: boolean;
  /** Mount {@link SessionGuard} as a global `APP_GUARD`. Default true. */
  mountGuard?: boolean;
}

/**
 * Built by `ConfigurableModuleBuilder`: the base class of {@link SessionRevocationModule} and
 * `SESSION_REVOCATION_MODULE_OPTIONS`, the injection token of the raw options as given.
 */
export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: SESSION_REVOCATION_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SessionRevocationModuleOptions>({ moduleName: 'SessionRevocation' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createSessionRevocationOptions')
  .setExtras<SessionRevocationModuleExtras>({ isGlobal: false, mountGuard: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
    providers: [
      ...(definition.providers ?? []),
      ...(extras.mountGuard ? [{ provide: APP_GUARD, useExisting: SessionGuard }] : []),
    ],
  }))
  .build();
