/**
 * The bubblewrap backend against the backend conformance suite. Its scratch tmpfs are made small so
 * that the disk-filling tasks fill them quickly.
 */
import { BwrapBackend } from '@pyti/slave';
import { describeBackendConformance } from './backend-conformance.js';

const MiB = 1024 * 1024;

await describeBackendConformance('bwrap', () => new BwrapBackend({ tmpBytes: 128 * MiB, workBytes: 512 * MiB }), { slowFactor: 1 });
