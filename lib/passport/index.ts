// nestjs-session-revocation/passport: needs @nestjs/passport and passport (optional peers).
export { SessionJwtStrategy } from './session-jwt.strategy.js';
export type { SessionJwtStrategyOptions } from './session-jwt.strategy.js';
