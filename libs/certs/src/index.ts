export * from './cert-record.js';
export * from './cert-store.js';
