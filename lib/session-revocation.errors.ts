/**
 * Why a token or a session was refused. It reaches the log and the session events, never a
 * response body (every refusal answers the same generic 401).
 *
 * - `malformed`: not a token of this library (bad signature, algorithm, claims, length).
 * - `expired`: the access token, the refresh token or the session has run out.
 * - `idle`: the session was not used for `idleTimeout`.
 * - `unknown`: no such session, refresh token or user.
 * - `revoked`: the session was ended (logout, device list, "log out everywhere", an epoch).
 * - `rotated`: the user's session token changed since the token was issued (password change by any path).
 * - `reused`: a refresh token was presented a second time; its whole family has ended.
 * - `blocked`: the user is blocked.
 * - `race`: a login or renewal lost a race with a block or a credential change.
 * - `legacy`: a token the app minted itself (`legacyTokens`) where a session is needed.
 * - `session-limit`: a login past `maxSessionsPerUser` (policy `'refuse'`, or newer logins won the race).
 */
export type SessionRefusalReason =
  | 'malformed'
  | 'expired'
  | 'idle'
  | 'unknown'
  | 'revoked'
  | 'rotated'
  | 'reused'
  | 'blocked'
  | 'race'
  | 'legacy'
  | 'session-limit';

/** Base class of every error the library throws on purpose. */
export class SessionRevocationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A token or session was refused. The module's exception filter answers it with a generic 401;
 * `reason` is for logs and events only.
 */
export class SessionRefusedError extends SessionRevocationError {
  /** The HTTP status it maps to. */
  readonly status = 401;
  /** The `WWW-Authenticate` value the 401 carries: set when an access token of a request was refused. */
  readonly challenge?: string;

  /**
   * @param reason why, for logs and events
   * @param options.challenge the `WWW-Authenticate` value of the 401 (an access token of a request was refused)
   */
  constructor(
    readonly reason: SessionRefusalReason,
    options: { challenge?: string } = {},
  ) {
    super(`session refused: ${reason}`);
    if (options.challenge) this.challenge = options.challenge;
  }
}

/**
 * The session store (database) could not answer. Requests that needed it are refused with 503:
 * the library fails closed, never open.
 */
export class SessionStoreUnavailableError extends SessionRevocationError {
  /** The HTTP status it maps to. */
  readonly status = 503;

  constructor(cause: unknown) {
    super('session store unavailable', { cause });
  }
}

/**
 * The session is valid but its user last proved a credential too long ago for this operation
 * (`@RequireFreshSession(maxAge)`, `assertFreshSession`). The module's filter answers 401 with
 * the RFC 9470 challenge `WWW-Authenticate: Bearer error="insufficient_user_authentication",
 * max_age=<maxAgeSeconds>`; the client re-authenticates (`SessionService.reauthenticate`) and retries.
 */
export class SessionNotFreshError extends SessionRevocationError {
  /** The HTTP status it maps to. */
  readonly status = 401;

  constructor(readonly maxAgeSeconds: number) {
    super(`session not fresh: re-authentication within ${maxAgeSeconds} s required`);
  }
}

/**
 * Too many failed sign-in attempts (`LoginAttempts`): for this account (a back-off that grows with
 * each failure and ends by itself) or from this IP. The module's filter answers 429 with
 * `Retry-After: <retryAfterSeconds>`.
 */
export class TooManyAttemptsError extends SessionRevocationError {
  /** The HTTP status it maps to. */
  readonly status = 429;

  constructor(
    readonly retryAfterSeconds: number,
    readonly scope: 'account' | 'ip',
  ) {
    super(`too many failed attempts (${scope}): retry after ${retryAfterSeconds} s`);
  }
}

/** Raised at startup when the module's options are unusable; the message names the option. */
export class SessionRevocationConfigError extends SessionRevocationError {
  constructor(option: string, problem: string) {
    super(`SessionRevocationModule: option '${option}' ${problem}`);
  }
}

/** A short description of an error for a log line: name and first line, never a driver's dump. @internal */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message.split('\n')[0].slice(0, 200)}` : 'unknown error';
}
