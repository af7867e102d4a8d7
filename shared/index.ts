export * from './protocol-core.js';
export * from './protocol-schemas.js';
