/**
 * The libvirt backend against the backend conformance suite. CI has no systemd: libvirtd is started
 * here when virsh cannot reach it (ensureLibvirtd). Scaled for TCG like the QEMU run.
 */
import { ensureLibvirtd, LibvirtBackend } from '@pyti/slave';
import { describeBackendConformance } from './backend-conformance.js';

const MiB = 1024 * 1024;

await describeBackendConformance('libvirt', async () => {
  try {
    await ensureLibvirtd(undefined, 90000, (l) => process.stderr.write(`${l}\n`));
  } catch (err) {
    process.stderr.write(`libvirtd could not be started: ${(err as Error).message}\n`);
  }
  return new LibvirtBackend({ tmpBytes: 128 * MiB, workBytes: 512 * MiB });
}, { slowFactor: 10 });
