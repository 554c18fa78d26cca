import { HttpStatus } from '@nestjs/common';
import express, { type RequestHandler } from 'express';
import { STATUS_CODES } from 'node:http';

/** Largest JSON body accepted. */
export const JSON_BODY_LIMIT = '100kb';
/** Deepest nesting of arrays and objects accepted (deeper bodies would overflow the validator's stack). */
export const JSON_MAX_DEPTH = 64;

/** Throws a 400 error when `body` nests arrays/objects deeper than `maxDepth` (brackets inside strings do not count). */
export function assertJsonDepth(body: Buffer, maxDepth = JSON_MAX_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw Object.assign(new Error(`JSON body nested deeper than ${maxDepth} levels`), { status: 400, type: 'entity.too.deep' });
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/**
 * `express.json()` with a 100 kB limit whose failures answer like Nest's own errors
 * (`{statusCode, message, error}`): malformed or too deeply nested JSON is a 400, an oversized body a 413, an
 * unsupported charset or encoding a 415; never a 500 or an HTML page.
 * Other content types are left unparsed and fail validation (400).
 */
export function jsonBodyParser(limit = JSON_BODY_LIMIT): RequestHandler {
  const parse = express.json({ limit, strict: true, verify: (_request, _response, body) => assertJsonDepth(body) });
  return (request, response, next) => {
    parse(request, response, (error?: unknown) => {
      if (!error) return next();
      const raw = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
      const status = typeof raw === 'number' && raw >= 400 && raw < 500 ? raw : HttpStatus.BAD_REQUEST;
      const message =
        (error as { type?: unknown }).type === 'entity.too.deep'
          ? (error as Error).message
          : status === HttpStatus.PAYLOAD_TOO_LARGE
          ? `Request body larger than ${limit}`
          : status === HttpStatus.BAD_REQUEST
            ? 'Malformed JSON body'
            : 'Unsupported body encoding';
      if (response.headersSent) return next(error);
      // An oversized body may not have been read to its end: do not reuse the connection.
      if (status === HttpStatus.PAYLOAD_TOO_LARGE) response.set('Connection', 'close');
      response.status(status).json({ statusCode: status, message, error: STATUS_CODES[status] });
    });
  };
}
