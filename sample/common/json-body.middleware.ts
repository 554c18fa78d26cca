import { HttpStatus } from '@nestjs/common';
import express, { type RequestHandler } from 'express';
import { STATUS_CODES } from 'node:http';

/** Largest JSON body accepted. */
export const JSON_BODY_LIMIT = '100kb';

/**
 * `express.json()` with a 100 kB limit whose failures answer like Nest's own errors
 * (`{statusCode, message, error}`): malformed JSON is a 400, an oversized body a 413, an
 * unsupported charset or encoding a 415; never a 500 or an HTML page.
 * Other content types are left unparsed and fail validation (400).
 */
export function jsonBodyParser(limit = JSON_BODY_LIMIT): RequestHandler {
  const parse = express.json({ limit, strict: true });
  return (request, response, next) => {
    parse(request, response, (error?: unknown) => {
      if (!error) return next();
      const raw = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
      const status = typeof raw === 'number' && raw >= 400 && raw < 500 ? raw : HttpStatus.BAD_REQUEST;
      const message =
        status === HttpStatus.PAYLOAD_TOO_LARGE
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
