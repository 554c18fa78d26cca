import { Module } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { SESSION_REVOCATION_ENTITIES } from '../../lib/index.js';
import { SAMPLE_CONFIG, type SampleConfig } from '../config.js';
import { User } from '../users/user.entity.js';
import { SessionTokenTriggerInstaller } from './session-token-trigger.installer.js';

/** The app's own DataSource; the library's entities join the app's (the library never opens a connection). */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [SAMPLE_CONFIG],
      useFactory: (config: SampleConfig) =>
        ({
          ...config.database,
          entities: [User, ...SESSION_REVOCATION_ENTITIES],
          // Fine for a sample; a real app runs migrations (including createSessionTokenTriggerMigration).
          synchronize: true,
          logging: false,
        }) as TypeOrmModuleOptions,
    }),
  ],
  providers: [SessionTokenTriggerInstaller],
})
export class DatabaseModule {}
