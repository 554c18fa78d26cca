import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { LegacyTokenContext } from '../interfaces/session-context.interface.js';
import type { ResolvedSessionRevocationOptions } from '../session-revocation-options.js';
import { ACCESS_TOKEN_TYP, LOGGER_CONTEXT, SESSION_REVOCATION_CONFIG } from '../session-revocation.constants.js';
import { SessionRefusedError, SessionRevocationError, SessionStoreUnavailableError } from '../session-revocation.errors.js';
import { SessionStore } from '../storage/session-store.interface.js';
import { JwtVerifier } from './access-tokens.js';
import { SessionAuthenticator } from './session-authenticator.js';

/**
 * The app's own pre-adoption tokens (`legacyTokens` option), accepted until the configured end of
 * the transition: verified with the app's key and pinned algorithm, `exp` required, refused for
 * users that are gone or blocked and for tokens issued before the revocation epoch.
 * @internal
 */
@Injectable()
export class LegacyTokens implements OnModuleInit {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly verifier?: JwtVerifier;

  constructor(
    @Inject(SESSION_REVOCATION_CONFIG) private readonly config: ResolvedSessionRevocationOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly authenticator: SessionAuthenticator,
  ) {
    if (config.legacyTokens) this.verifier = new JwtVerifier({ ...config.legacyTokens, clockToleranceSeconds: config.clockToleranceSeconds });
  }

  /** Says at startup until when legacy tokens pass, or that the transition is over and the option can go. */
  onModuleInit(): void {
    const legacy = this.config.legacyTokens;
    if (!legacy) return;
    const until = new Date(legacy.untilMs).toISOString();
    if (legacy.untilMs <= Date.now()) this.logger.warn(`legacyTokens: the transition ended at ${until}; legacy tokens are refused. Remove the legacyTokens option.`);
    else this.logger.log(`legacyTokens: the app's own tokens are accepted until ${until} (not revocable, no session)`);
  }

  /**
   * Whether a token goes to the legacy check: the option is set and the token's header does not say
   * it is one of the library's (`typ: at+jwt`). Each path verifies its tokens in full, so routing by
   * the unverified header only saves a signature check that would fail anyway.
   */
  handles(token: string): boolean {
    return this.config.legacyTokens !== undefined && headerType(token) !== ACCESS_TOKEN_TYP;
  }

  /** The user of a legacy token; throws `SessionRefusedError` (or `SessionStoreUnavailableError`). */
  async authenticate(token: unknown): Promise<LegacyTokenContext> {
    const legacy = this.config.legacyTokens;
    if (!legacy) throw new SessionRefusedError('malformed');
    if (Date.now() >= legacy.untilMs) throw new SessionRefusedError('legacy');
    const decoded = this.verifier!.verify(token);
    const payload = decoded?.payload;
    if (!payload || decoded.header?.typ === ACCESS_TOKEN_TYP || typeof payload.exp !== 'number') throw new SessionRefusedError('malformed');
    const iat = typeof payload.iat === 'number' ? payload.iat : undefined;
    const userId = this.userIdOf(payload);
    try {
      if (!(await this.store.getUser(userId, []))) throw new SessionRefusedError('unknown');
      if (await this.store.isBlocked(userId)) throw new SessionRefusedError('blocked');
      const epoch = await this.authenticator.epoch();
      if (epoch > 0 && (iat === undefined || iat * 1000 <= epoch)) throw new SessionRefusedError('revoked');
    } catch (error) {
      if (error instanceof SessionRevocationError) throw error;
      throw new SessionStoreUnavailableError(error);
    }
    return { legacy: true, userId, issuedAt: iat, expiresAt: payload.exp, claims: payload };
  }

  private userIdOf(payload: Record<string, unknown>) {
    let named: unknown;
    try {
      named = this.config.legacyTokens!.userId ? this.config.legacyTokens!.userId(payload) : payload.sub;
    } catch {
      named = undefined; // the app's mapping choked on a payload it did not expect: not a usable token
    }
    const userId = named === undefined || named === null ? undefined : this.store.parseUserId(String(named));
    if (userId === undefined) throw new SessionRefusedError('unknown');
    return userId;
  }
}

/** The `typ` of a JWT's header, unverified; undefined when it cannot be read. */
function headerType(token: string): unknown {
  try {
    return JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'))?.typ;
  } catch {
    return undefined;
  }
}
