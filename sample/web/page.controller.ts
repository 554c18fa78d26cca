import { Controller, Get, Header } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { SkipSessionCheck } from '../../lib/index.js';

/**
 * The account page's files live in `sample/web/public/`; `npm run build:sample` copies them
 * next to the compiled controller, so `./public/` works from the sources (tests) and from
 * `dist-sample/` alike.
 */
const asset = (name: string): string => readFileSync(new URL(`./public/${name}`, import.meta.url), 'utf8');

/**
 * Content-Security-Policy of the page: its own script and style only, no inline code, API
 * and event stream on the same origin, never framed.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The account page: a static shell (no private data in the HTML) whose script asks the
 * JSON API, with the HttpOnly cookies, whether someone is signed in. Public routes; every
 * answer is `Cache-Control: no-store` (web/security-headers.middleware.ts).
 */
@SkipSessionCheck()
@Controller()
export class PageController {
  private readonly html = asset('index.html');
  private readonly script = asset('app.js');
  private readonly style = asset('app.css');

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', PAGE_CSP)
  page(): string {
    return this.html;
  }

  @Get('app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  appScript(): string {
    return this.script;
  }

  @Get('app.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  appStyle(): string {
    return this.style;
  }
}
