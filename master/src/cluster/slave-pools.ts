/**
 * What each slave last said about its pools of ready VM guests (heartbeat `pools`, validated by
 * rpc/validate.ts): kept in memory, not in the database. It is live state that every heartbeat
 * replaces (a master that restarts knows it again one heartbeat later), and the cluster page shows it
 * beside the slave's job slots, with its age.
 */
import type { GuestPoolReport } from '@pyti/common';

/** A slave's pools as last reported, and when (ms since the epoch, the master's clock). */
export interface SlavePoolsSeen {
  pools: GuestPoolReport[];
  at: number;
}

/** The last pool report of every slave that sent one. */
export class SlavePools {
  private readonly seen = new Map<string, SlavePoolsSeen>();

  /** Records a heartbeat's pools (already validated); a heartbeat without pools clears the slave's. */
  record(slave: string, pools: GuestPoolReport[] | undefined, at: number): void {
    if (pools?.length) this.seen.set(slave, { pools: pools.map((p) => ({ ...p })), at });
    else this.seen.delete(slave);
  }

  /** The slave's last report, if any. */
  of(slave: string): SlavePoolsSeen | undefined {
    return this.seen.get(slave);
  }
}
