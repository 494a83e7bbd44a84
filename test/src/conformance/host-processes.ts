/**
 * The host's view of a session's processes, to check that nothing outlives a job. A session's
 * processes are those whose command line names the job (its directory, or a nonce a task put in its
 * argv) and, for namespace sandboxes, every process in the same PID namespace as one of them.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface HostProcess {
  pid: number;
  /** Start time in clock ticks since boot: with the pid, identifies the process. */
  start: string;
  /** `R`, `S`, … or `Z` for a zombie (ended, waiting for its parent to reap it). */
  state: string;
  cmdline: string;
  pidNs?: string;
}

function read(pid: string): HostProcess | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, start] = [fields[0]!, fields[19]!];
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
    let pidNs: string | undefined;
    try {
      pidNs = readlinkSync(`/proc/${pid}/ns/pid`);
    } catch {
      pidNs = undefined;
    }
    return { pid: Number(pid), start, state, cmdline, pidNs };
  } catch {
    return undefined; // ended while we looked
  }
}

/** Every process on the host now. */
export function hostProcesses(): HostProcess[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(read).filter((p): p is HostProcess => p !== undefined);
}

const ownNs = (): string | undefined => read(String(process.pid))?.pidNs;

/** The processes that belong to a session: named by one of `needles`, or sharing a foreign PID namespace with one. */
export function sessionProcesses(needles: string[]): HostProcess[] {
  const all = hostProcesses();
  const named = all.filter((p) => needles.some((n) => p.cmdline.includes(n)));
  const host = ownNs();
  const spaces = new Set(named.map((p) => p.pidNs).filter((ns) => ns !== undefined && ns !== host));
  return all.filter((p) => named.includes(p) || (p.pidNs !== undefined && spaces.has(p.pidNs)));
}

/**
 * What is left running, after `graceMs`, of the processes `seen` during a session, of processes
 * named by `needles`, and of their PID namespaces. Empty when the session left nothing behind.
 * Zombies do not count: they have ended, and reaping them is their parent's business (an orphan's
 * parent is the host's init).
 */
export async function leftoverProcesses(seen: HostProcess[], needles: string[], graceMs: number): Promise<HostProcess[]> {
  const host = ownNs();
  const spaces = new Set(seen.map((p) => p.pidNs).filter((ns) => ns !== undefined && ns !== host));
  const key = (p: HostProcess): string => `${p.pid}/${p.start}`;
  const seenKeys = new Set(seen.map(key));
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = hostProcesses().filter((p) => p.pid !== process.pid && p.state !== 'Z' && p.state !== 'X' && (
      seenKeys.has(key(p)) || needles.some((n) => p.cmdline.includes(n)) || (p.pidNs !== undefined && spaces.has(p.pidNs))));
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}
