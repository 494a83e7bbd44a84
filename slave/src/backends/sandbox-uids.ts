/**
 * Everything one process sandbox needs to run its tasks under uids of its own: a range from the
 * host-wide pool (uid-range.ts), the slot users' accounts renumbered to it (slot-accounts.ts), and
 * witnesses that tell when something outside the sandbox signalled the range (uid-witness.ts).
 */
import { spawnSync } from 'node:child_process';
import { allocateUidRange, type UidPool } from './uid-range.js';
import { writeSlotAccounts, type SlotAccountFiles } from './slot-accounts.js';
import { watchUids } from './uid-witness.js';

/** A process sandbox's task uids, held until `release`. */
export interface SandboxUids {
  /** Slot i's uid and gid: `base + i`. */
  base: number;
  count: number;
  /** Host files to mount read-only at /etc/passwd and /etc/group. */
  accounts: SlotAccountFiles;
  /** See UidWitnesses.outsideKill. */
  outsideKill(): string | undefined;
  /** Stops the witnesses, then gives the range back. Call once the sandbox's processes are gone. Idempotent. */
  release(): void;
}

/** Takes a uid range for the sandbox of `jobDir` (root only): writes its accounts there and starts its witnesses. */
export async function takeSandboxUids(rootfs: string, jobDir: string, pool?: UidPool): Promise<SandboxUids> {
  const range = await allocateUidRange(pool);
  try {
    const accounts = writeSlotAccounts(rootfs, jobDir, range.base, range.count);
    const witnesses = watchUids(range.base, range.count, range.witnessUid);
    return {
      base: range.base, count: range.count, accounts,
      outsideKill: () => witnesses.outsideKill(),
      release() {
        witnesses.stop();
        range.release();
      },
    };
  } catch (err) {
    range.release();
    throw err;
  }
}

/** null when the tools the uid ranges need (util-linux's flock and setpriv) are here, else what to install. */
export function missingUidTools(): string | null {
  for (const tool of ['flock', 'setpriv']) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `${tool} is not installed (util-linux): sandboxes need it for their task uid ranges`;
  }
  return null;
}
