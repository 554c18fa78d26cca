// nestjs-session-revocation/socket.io: needs @nestjs/websockets, @nestjs/platform-socket.io and socket.io.
export { SessionIoAdapter } from './session-io.adapter.js';
export type { ConnectionEndEvent } from '../core/session-connection-registry.js';
