export * from './fixture-dists.js';
