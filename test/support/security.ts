import { Logger, type LoggerService } from '@nestjs/common';
import { createHmac, sign as cryptoSign, constants as cryptoConstants, type KeyObject } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * Helpers of the security suite (test/security-*.e2e-spec.ts): forging JWTs, talking raw
 * HTTP, a spy server that must never be called, and a log capture scanned for secrets.
 */

// ---------------------------------------------------------------------------------------------
// JWT forging
// ---------------------------------------------------------------------------------------------

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : Buffer.isBuffer(value) ? value : JSON.stringify(value)).toString('base64url');

/** Decodes one part (0 header, 1 payload) of a compact JWS. */
export function decodePart(token: string, index: 0 | 1): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));
}

export type HmacAlg = 'HS256' | 'HS384' | 'HS512';
const HMAC_DIGEST: Record<HmacAlg, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** A compact JWS signed with HMAC over `key`, whatever the header says. */
export function hmacJwt(alg: HmacAlg, header: object, payload: unknown, key: string | Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(HMAC_DIGEST[alg], key).update(input).digest('base64url')}`;
}

export type AsymAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256';

/** A compact JWS signed with a private key (RSA PKCS#1 v1.5, RSA-PSS or ECDSA P-256). */
export function asymJwt(alg: AsymAlg, header: object, payload: unknown, privateKey: string | KeyObject): string {
  const key = privateKey as KeyObject;
  const input = `${b64url(header)}.${b64url(payload)}`;
  const digest = `sha${alg.slice(2)}`;
  let signature: Buffer;
  if (alg.startsWith('PS')) {
    signature = cryptoSign(digest, Buffer.from(input), {
      key,
      padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
      saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST,
    });
  } else if (alg.startsWith('ES')) {
    signature = cryptoSign(digest, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  } else {
    signature = cryptoSign(digest, Buffer.from(input), key);
  }
  return `${input}.${signature.toString('base64url')}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/** Makes a Nest app's server listen on 127.0.0.1 (once) and returns its base URL. */
export async function listen(app: { getHttpServer(): any; listen(port: number, host: string): Promise<unknown> }): Promise<string> {
  const server = app.getHttpServer();
  if (!server.listening) await app.listen(0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from sending to the end of the response. */
  ms: number;
}

/**
 * Writes `head` (request line and headers, without the blank line) as raw bytes on a new
 * socket and reads the whole answer (`Connection: close`). For requests a client library
 * refuses to send: repeated headers, control bytes, oversized values.
 */
export function rawHttp(base: string, head: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  const { port } = new URL(base);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close as soon as it has answered a bad request.
      if (chunks.length > 0 && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) return;
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ ...parseRawResponse(Buffer.concat(chunks)), ms: performance.now() - started });
      } catch (error) {
        reject(error);
      }
    });
    const bytes = Buffer.isBuffer(head) ? head : Buffer.from(head, 'latin1');
    socket.end(Buffer.concat([bytes, Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1')]));
  });
}

function parseRawResponse(raw: Buffer): Omit<RawResponse, 'ms'> {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`incomplete HTTP answer: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const end = body.indexOf('\r\n', offset);
      if (end < 0) break;
      const size = parseInt(body.subarray(offset, end).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(end + 2, end + 2 + size));
      offset = end + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status, headers, body: body.toString('utf8') };
}

/** A small keep-alive HTTP client for many requests: status, headers, body text and time. */
export function keepAliveClient(base: string, maxSockets = 16) {
  // An idle socket is closed by this side after 4 s, before the server's keep-alive timeout (5 s)
  // closes it: otherwise a request sent on a socket the server is closing at that moment fails
  // with ECONNRESET (the keep-alive race), which is the client's problem, not an answer.
  const agent = new http.Agent({ keepAlive: true, maxSockets, timeout: 4000 });
  const { port } = new URL(base);
  return {
    agent,
    request(method: string, path: string, headers: Record<string, string | string[]> = {}, body?: string | Buffer): Promise<RawResponse> {
      const started = performance.now();
      // node sends a GET/DELETE body without Content-Length unless told: the server would read it as the next request.
      if (body !== undefined) headers = { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
      return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: Number(port), method, path, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
              body: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - started,
            }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** An HTTP server on 127.0.0.1 that counts every request: JWKS / x5u URLs that must never be fetched. */
export async function spyServer(answer: (path: string) => string): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.setHeader('Content-Type', 'application/json');
    res.end(answer(req.url ?? ''));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Log capture and secret scan
// ---------------------------------------------------------------------------------------------

function render(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ''}${value.cause ? `\ncause: ${render(value.cause)}` : ''}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** A Nest LoggerService that keeps every line (all levels) in memory. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private push(level: string, message: unknown, params: unknown[]) {
    this.lines.push(`[${level}] ${[message, ...params].map(render).join(' ')}`);
  }
  log(message: unknown, ...params: unknown[]) {
    this.push('log', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.push('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.push('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.push('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.push('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.push('fatal', message, params);
  }
}

/** What a log capture saw: Nest Logger lines, process stdout/stderr writes and console calls. */
export interface LogCapture {
  logger: CapturingLogger;
  /** Every captured line (Nest logger, stdout, stderr, console). */
  all(): string[];
  /** Re-installs the capturing logger (after an app was created with `logger: false`). */
  reattach(): void;
  stop(): void;
}

/**
 * Captures every Nest Logger line (all levels, through `Logger.overrideLogger`) and every
 * write to process.stdout / process.stderr and console.* while running. Apps created after
 * `start` with `logger: false` replace the global logger: call `reattach()` (or
 * `app.useLogger(capture.logger)`) after creating them.
 */
export function captureLogs(): LogCapture {
  const logger = new CapturingLogger();
  const raw: string[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const wrap = (original: typeof process.stdout.write) =>
    function (this: unknown, chunk: unknown, ...rest: unknown[]) {
      raw.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      return (original as any).call(this, chunk, ...rest);
    } as typeof process.stdout.write;
  process.stdout.write = wrap(stdoutWrite);
  process.stderr.write = wrap(stderrWrite);
  const consoleMethods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const savedConsole = consoleMethods.map((m) => [m, console[m]] as const);
  for (const m of consoleMethods) {
    const original = console[m];
    console[m] = (...args: unknown[]) => {
      raw.push(`[console.${m}] ${args.map(render).join(' ')}`);
      // Keep the suite's own console quiet except for warnings and errors.
      if (m === 'warn' || m === 'error') original.apply(console, args as []);
    };
  }
  Logger.overrideLogger(logger);
  return {
    logger,
    all: () => [...logger.lines, ...raw],
    reattach: () => Logger.overrideLogger(logger),
    stop() {
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
      for (const [m, original] of savedConsole) console[m] = original as any;
    },
  };
}

/** Secrets a spec has handed out, with a label each, to be searched for in logs and error bodies. */
export class SecretRegistry {
  private readonly secrets = new Map<string, string>();

  /** Adds a secret; JWTs also register their signature alone, long opaque values a 20-character prefix. */
  add(label: string, value: string | null | undefined): void {
    if (typeof value !== 'string' || value.length < 8) return;
    this.secrets.set(value, label);
    const parts = value.split('.');
    if (parts.length === 3 && parts[2].length >= 16) this.secrets.set(parts[2], `${label} (signature)`);
    else if (parts.length === 1 && value.length >= 32) this.secrets.set(value.slice(0, 20), `${label} (prefix)`);
  }

  addTokens(label: string, tokens: { accessToken?: string; refreshToken?: string } | undefined): void {
    this.add(`${label} access token`, tokens?.accessToken);
    this.add(`${label} refresh token`, tokens?.refreshToken);
  }

  get size(): number {
    return this.secrets.size;
  }

  /** Every (secret label, offending text excerpt) found in `texts`. */
  findIn(texts: Iterable<string>): Array<{ secret: string; excerpt: string }> {
    const found: Array<{ secret: string; excerpt: string }> = [];
    for (const text of texts) {
      for (const [value, label] of this.secrets) {
        const at = text.indexOf(value);
        if (at >= 0) found.push({ secret: label, excerpt: text.slice(Math.max(0, at - 60), at + 20) });
      }
    }
    return found;
  }
}

// ---------------------------------------------------------------------------------------------
// Misc
// ---------------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The p-th percentile (0..100) of `values`. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A gate a test opens later: `wait()` resolves once `open()` was called. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, wait: () => opened };
}
