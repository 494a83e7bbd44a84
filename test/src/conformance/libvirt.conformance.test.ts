/**
 * The libvirt backend against the backend conformance suite. CI has no systemd: libvirtd is started
 * here when virsh cannot reach it (ensureLibvirtd). Scaled for TCG like the QEMU run, and like it
 * with a pool of one ready guest.
 */
import { ensureLibvirtd, LibvirtBackend } from '@pyti/slave';
import { describeBackendConformance } from './backend-conformance.js';

const MiB = 1024 * 1024;

let backend: LibvirtBackend | undefined;
afterAll(() => backend?.closePool());

await describeBackendConformance('libvirt', async () => {
  try {
    await ensureLibvirtd(undefined, 90000, (l) => process.stderr.write(`${l}\n`));
  } catch (err) {
    process.stderr.write(`libvirtd could not be started: ${(err as Error).message}\n`);
  }
  backend = new LibvirtBackend({ tmpBytes: 128 * MiB, workBytes: 512 * MiB, pool: 1 });
  return backend;
}, { slowFactor: 10 });
