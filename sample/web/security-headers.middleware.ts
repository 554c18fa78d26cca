import type { RequestHandler } from 'express';

/**
 * Headers on every answer of the sample (API and page alike):
 * - `Cache-Control: no-store`: private data never lands in a browser or proxy cache, so the
 *   back button after sign-out cannot bring it back (routes may still set their own, e.g. SSE);
 * - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 *   `X-Frame-Options: DENY` (the page also says `frame-ancestors 'none'` in its CSP).
 */
export function securityHeaders(): RequestHandler {
  return (_request, response, next) => {
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('X-Frame-Options', 'DENY');
    next();
  };
}
