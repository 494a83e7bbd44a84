/** The master's feed readers: PyPI's XML-RPC change log, RSS feeds and per-release files. */
export * from './feed-types.js';
export * from './xmlrpc-codec.js';
export * from './xmlrpc-client.js';
export * from './changelog.js';
export * from './rss.js';
export * from './rss-watcher.js';
export * from './release-files.js';
export * from './pep.js';
export * from './simple-index.js';
