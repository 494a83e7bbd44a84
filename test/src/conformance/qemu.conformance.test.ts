/**
 * The QEMU backend against the backend conformance suite (under TCG here: slow, so scaled). Small
 * scratch tmpfs so that the disk-filling tasks fill them quickly. With a pool of one ready guest:
 * every session after the first starts from a waiting guest (its input disk written at start).
 */
import { QemuBackend } from '@pyti/slave';
import { describeBackendConformance } from './backend-conformance.js';

const MiB = 1024 * 1024;

const backend = new QemuBackend({ tmpBytes: 128 * MiB, workBytes: 512 * MiB, pool: 1 });
afterAll(() => backend.closePool());

await describeBackendConformance('qemu', () => backend, { slowFactor: 10 });
