import { SessionRevocationModule } from '../lib/index.js';
import { sampleTokenExtractor } from './auth/auth-cookies.js';
import { DEFAULT_MAX_SESSIONS_PER_USER, SAMPLE_CONFIG, type SampleConfig } from './config.js';
import { User } from './users/user.entity.js';

/**
 * The library, configured asynchronously from the app's config. This one dynamic module is
 * imported by AppModule (which mounts the global guard) and by every feature module that
 * injects SessionService; Nest makes a single instance of it (`isGlobal: true` would do too).
 */
export const SessionRevocation = SessionRevocationModule.forRootAsync({
  inject: [SAMPLE_CONFIG],
  useFactory: (config: SampleConfig) => ({
    userEntity: User,
    jwt: {
      secret: config.jwtSecret,
      accessTtl: '15m',
      refreshTtl: '30d',
      issuer: 'nestjs-session-revocation-sample',
      audience: 'nestjs-session-revocation-sample',
    },
    // Session policy (docs/security.md): at most MAX_SESSIONS_PER_USER live sessions, the
    // oldest ending at the next login; 30 minutes without use ends a session (the default
    // idleTimeout); ended sessions are pruned after 30 days, on one instance at a time; the
    // security activity of each account is kept 90 days for GET /me/activity.
    maxSessionsPerUser: config.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER,
    prune: { every: '1h', retain: '30d' },
    audit: true,
    // The per-account back-off of LoginAttempts stays on; the per-IP limit of the auth routes
    // is AuthRateLimiter's (AUTH_RATE_LIMIT_PER_IP), so the library's own is off here.
    loginAttempts: { perIp: false },
    // Bearer header for API clients; the HttpOnly access-token cookie for the account page
    // (its unsafe requests must pass the CSRF check in web/csrf.middleware.ts).
    tokenExtractor: sampleTokenExtractor,
    // Several instances: revocations reach every instance at once over Redis, or over
    // PostgreSQL LISTEN/NOTIFY (the session-token trigger notifies too). MySQL/MariaDB has no
    // such channel: set REDIS_URL there for several instances. Without a bus, the default
    // cache TTL (5 s) bounds what writes from outside the app (raw SQL through the trigger)
    // can take to be noticed.
    ...(config.redisUrl
      ? { redis: { url: config.redisUrl } }
      : config.database.type === 'postgres'
        ? { postgresNotify: true }
        : {}),
  }),
});
