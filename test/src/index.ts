export * from './fixture-dists.js';
export * from './index-server/index-server.js';
export { normalizeName } from './index-server/names.js';
export * from './index-fixtures.js';
export { DEFAULT_SERIAL_BASE } from './index-server/journal.js';
export { PYPI_RSS_ITEMS, rfc822 } from './index-server/rss.js';
export { encodeFault, encodeResponse, XmlRpcFault, type XmlRpcValue } from './index-server/xmlrpc-codec.js';
export { PYPI_CHANGELOG_PAGE, RATE_LIMIT_FAULT } from './index-server/xmlrpc-api.js';
