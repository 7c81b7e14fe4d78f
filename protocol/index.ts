/**
 * Every wire and engine contract. Clients (simulator, tests, SDKs) import from
 * here and nothing else.
 */
export * from './ids.js';
export * from './geo.js';
export * from './errors.js';
export * from './engine-events.js';
export * from './engine-commands.js';
export * from './vehicle.js';
export * from './dispatch-settings.js';
export * from './identity.js';
export * from './rider-codes.js';
export * from './rider-frames.js';
export * from './rider-sequence.js';
export { positionScratch, readPositionFrame, type PositionScratch } from './rider-position-codec.js';
export * from './rider-client.js';
export * from './upi.js';
export * from './console.js';
