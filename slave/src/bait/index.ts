/** Bait: per-audit canary credentials (generation, matching, sandbox-output checks). */
export * from './bait-types.js';
export { generateBait, randomString } from './generate-bait.js';
export { indexCanaries, findCanaries, dnsTexts, GRAM, type CanaryIndex } from './canary-match.js';
export { parseBaitHits, parsePlanted, parseReportBait } from './shape-check.js';
