export * from './cache-dir.js';
export * from './recipe-hash.js';
export * from './guest-rootfs.js';
export * from './agent-bundle.js';
export * from './cpio-newc.js';
export * from './boot-image.js';
export * from './run-tool.js';
