export * from './audit-tasks.js';
