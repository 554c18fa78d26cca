import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { installSessionTokenTrigger } from '../../lib/index.js';
import { User } from '../users/user.entity.js';

/**
 * Installs the library's session-token trigger on `users` at startup (idempotent), so a
 * password or email changed outside TypeORM (raw SQL, a script, another service) ends the
 * user's sessions too. With migrations you would use `createSessionTokenTriggerMigration(User)`.
 */
@Injectable()
export class SessionTokenTriggerInstaller implements OnModuleInit {
  private readonly logger = new Logger('Database');

  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    await installSessionTokenTrigger(this.dataSource, User);
    this.logger.log('session-token trigger installed on users');
  }
}
