/** Bait: the shapes of per-audit canary credentials, finding them in output, and checks of what the sandbox reports planting and reading (the slave generates them: slave/src/bait). */
export * from './bait-types.js';
export { indexCanaries, findCanaries, dnsTexts, GRAM, type CanaryIndex } from './canary-match.js';
export { parseBaitHits, parsePlanted, parseReportBait } from './shape-check.js';
