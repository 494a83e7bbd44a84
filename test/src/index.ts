export * from './fixture-dists.js';
export * from './index-server/index-server.js';
export { normalizeName } from './index-server/names.js';
export * from './index-fixtures.js';
