export { parseRevocationMessage } from './revocation-bus.js';
export type { RevocationBus, RevocationBusHandlers, RevocationMessage } from './revocation-bus.js';
