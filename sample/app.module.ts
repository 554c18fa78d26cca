import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module.js';
import { AuthModule } from './auth/auth.module.js';
import { DatabaseUnavailableFilter } from './common/database-unavailable.filter.js';
import type { SampleConfig } from './config.js';
import { SampleConfigModule } from './config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { LiveModule } from './live/live.module.js';
import { MeModule } from './me/me.module.js';
import { SessionRevocation } from './session-revocation.js';
import { SessionsModule } from './sessions/sessions.module.js';
import { WebModule } from './web/web.module.js';

@Module({})
export class AppModule {
  static forRoot(config: SampleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        SampleConfigModule.forRoot(config),
        DatabaseModule,
        // Mounts the global guard: every route is protected unless @SkipSessionCheck().
        SessionRevocation,
        AuthModule,
        MeModule,
        SessionsModule,
        AdminModule,
        HealthModule,
        WebModule,
        LiveModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: DatabaseUnavailableFilter }],
    };
  }
}
