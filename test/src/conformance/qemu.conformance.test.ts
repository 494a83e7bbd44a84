/**
 * The QEMU backend against the backend conformance suite (under TCG here: slow, so scaled). Small
 * scratch tmpfs so that the disk-filling tasks fill them quickly.
 */
import { QemuBackend } from '@pyti/slave';
import { describeBackendConformance } from './backend-conformance.js';

const MiB = 1024 * 1024;

await describeBackendConformance('qemu', () => new QemuBackend({ tmpBytes: 128 * MiB, workBytes: 512 * MiB }), { slowFactor: 10 });
