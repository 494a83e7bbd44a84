export * from './audit-tasks.js';
export * from './bait-tasks.js';
export * from './traced-calls.js';
export * from './task-placement.js';
