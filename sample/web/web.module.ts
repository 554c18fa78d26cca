import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { SessionRevocation } from '../session-revocation.js';
import { CookieTokensInterceptor } from './cookie-tokens.interceptor.js';
import { EventsController } from './events.controller.js';
import { PageController } from './page.controller.js';

/**
 * The browser side of the sample: the account page (`GET /`), the live event stream
 * (`GET /events`) and the cookie flow (`X-Auth-Mode: cookie`). The CSRF check and the
 * no-store headers are Express middleware, mounted in app.factory.ts.
 */
@Module({
  imports: [SessionRevocation],
  controllers: [PageController, EventsController],
  providers: [{ provide: APP_INTERCEPTOR, useClass: CookieTokensInterceptor }],
})
export class WebModule {}
