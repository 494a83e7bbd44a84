/**
 * The sinkhole network of the guest (tasks with `network: 'sinkhole'`), the agent's side.
 *
 * Set up once per guest, in the background from the first `initialize` on (bwrap and VMs alike):
 * - routes: a default route over the loopback device for IPv4 and IPv6, so a connect() anywhere
 *   finds a route instead of failing with ENETUNREACH; there is no other device, so nothing leaves;
 * - nftables (table `inet pyti_sinkhole`), keyed on the group of the socket's owner: tasks on the
 *   sinkhole run with gid `SINKHOLE_GID` (100, `users`) instead of their slot's gid, and their TCP and
 *   UDP to port 53 (loopback included: resolv.conf names 127.0.0.1) go to the resolver, the rest of
 *   their traffic to a non-loopback address to the listener. Every other task uid (gid uidBase+slot) gets
 *   a TCP reset (ECONNREFUSED) or a dropped datagram (EPERM) for anything but loopback, as close as a
 *   route to nowhere allows to a guest with no network. Loopback is never touched for them, nor is
 *   the agent's or the sinkhole's own traffic. Task code has no capability to change either.
 * - the sinkhole process (tasks/guest/sinkhole.py), started as root; it binds its ports and opens
 *   the conntrack table, then drops to `SINKHOLE_UID` before it reads anything.
 *
 * Its records arrive on its stdout, one JSON object a line; the agent hands each sinkhole task the
 * lines that arrived between its start and the sinkhole's answer to `flush` at its end (sinkhole
 * tasks never run together: the plan chains them). Nothing here trusts those lines: the host parses
 * them (slave/src/sinkhole/parse-sinkhole.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

declare const __PYTI_SINKHOLE__: string | undefined;

/**
 * Where a bundled agent writes the sinkhole's script that the bundle carries (tasks/guest/sinkhole.py,
 * inlined at bundle time), or undefined when the agent runs unbundled (bwrap: the script is in the
 * tasks directory). With the script in the guest's own memory, a VM guest starts its sinkhole whole at
 * the warm-up, and every restored guest has it running: a job waits neither for its rules nor for its
 * Python. Root-owned, in a root-owned directory: no task can change what the root process runs.
 */
export function embeddedSinkholeScript(dir = '/run/pyti'): string | undefined {
  if (typeof __PYTI_SINKHOLE__ !== 'string') return undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const path = `${dir}/sinkhole.py`;
    writeFileSync(path, __PYTI_SINKHOLE__, { mode: 0o644 });
    return path;
  } catch {
    return undefined; // the tasks directory's copy, once attached
  }
}

/** The unprivileged uid (and gid) the sinkhole process runs as. */
export const SINKHOLE_UID = 1999;
/**
 * Tasks on the sinkhole run with this gid instead of their slot's: the image's `users` group, as
 * a laptop user's primary group may well be (no sandbox-looking name, no change to the image).
 */
export const SINKHOLE_GID = 100;
/** Ports the nftables rules redirect to (high ports: the sinkhole needs no capability to bind them). */
export const SINKHOLE_PORTS = { dns: 19053, tcp: 19080, udp: 19081 } as const;
/** Bytes of records kept per task; more are counted in a `ctl` line. */
export const MAX_TASK_LOG_BYTES = 8 * 1024 * 1024;
const MAX_LINE_BYTES = 64 * 1024;

/** The routes: default over loopback (one `ip -batch` run). */
export const ROUTES = 'route replace default dev lo src 127.0.0.1\nroute replace ::/0 dev lo\n';

/**
 * The nftables ruleset (one `nft -f` run; replaces an earlier copy of the table). The task uids are
 * `uidBase … uidBase+uidCount-1` (their slot gids are the same numbers).
 */
export function nftRules(uidBase = 2000, uidCount = 100): string {
  const { dns, tcp, udp } = SINKHOLE_PORTS;
  const gids = `${uidBase}-${uidBase + uidCount - 1}`;
  return `table inet pyti_sinkhole
delete table inet pyti_sinkhole
table inet pyti_sinkhole {
  chain nat_out {
    type nat hook output priority -100; policy accept;
    meta skgid != ${SINKHOLE_GID} accept
    meta l4proto { tcp, udp } th dport 53 redirect to :${dns}
    ip daddr 127.0.0.0/8 accept
    ip6 daddr ::1 accept
    meta l4proto tcp redirect to :${tcp}
    meta l4proto udp redirect to :${udp}
  }
  chain filter_out {
    type filter hook output priority 0; policy accept;
    meta skgid ${gids} ip daddr != 127.0.0.0/8 meta l4proto tcp reject with tcp reset
    meta skgid ${gids} ip6 daddr != ::1 meta l4proto tcp reject with tcp reset
    meta skgid ${gids} ip daddr != 127.0.0.0/8 drop
    meta skgid ${gids} ip6 daddr != ::1 drop
  }
}
`;
}

/** What a sinkhole task gets back at its end: the lines for its `sinkhole.jsonl`. */
export interface SinkholeShare {
  data: Buffer;
}

const sbin = (name: string): string => ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].map((d) => `${d}/${name}`).find((p) => existsSync(p)) ?? name;

/** Runs argv with `input` on stdin; resolves with the error output, or null when it exited 0. */
function runWithInput(argv: string[], input: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString('utf8'); });
    child.on('error', (e) => { clearTimeout(timer); resolve(`${argv[0]}: ${e.message}`); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `${argv.join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(0, 1000)}`);
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  });
}

/** The guest's one sinkhole: set up once, shared by every plan the agent runs. */
export class SinkholeNetwork {
  private starting?: Promise<string | null>;
  private preparing?: Promise<string | null>;
  private child?: ChildProcess;
  private current?: { chunks: Buffer[]; bytes: number; dropped: number };
  private pending = '';
  private flushWaiters = new Map<string, () => void>();
  private flushes = 0;
  private failure: string | null = null;

  /**
   * @param script the sinkhole's Python file; @param log where the agent's own notes go;
   * @param taskUids the task uids whose traffic the rules govern (default the image's 2000-2099)
   */
  constructor(private readonly script: string, private readonly log: (line: string) => void = () => undefined, private readonly python = '/usr/bin/python3',
    private readonly taskUids: { base: number; count: number } = { base: 2000, count: 100 }) {}

  /** Starts the set-up if it has not started; resolves with null when the sinkhole is up, else why not. */
  start(): Promise<string | null> {
    const t0 = Date.now();
    this.starting ??= this.setUp().then((failure) => {
      this.failure = failure;
      this.log(failure ? `sinkhole unavailable: ${failure}` : `sinkhole up in ${Date.now() - t0} ms`);
      return failure;
    });
    return this.starting;
  }

  /**
   * The rules and routes only (the image's nft and ip; not the sinkhole's script, which may be on a
   * disk not attached yet), once; null when in place, else why not. A VM guest does this at its
   * warm-up, so that a restored guest has them (and a job's start does not wait for them).
   */
  prepare(): Promise<string | null> {
    this.preparing ??= (async () => {
      // Rules first: routes without them would let the other tasks' packets wander out over loopback
      // into nothing (a connect() hanging for minutes) instead of being refused.
      const rules = await runWithInput([sbin('nft'), '-f', '-'], nftRules(this.taskUids.base, this.taskUids.count), 30000);
      if (rules) return `${rules} (the kernel needs nf_tables, nft_chain_nat, nft_redir and nft_reject_inet)`;
      return runWithInput([sbin('ip'), '-batch', '-'], ROUTES, 30000);
    })();
    return this.preparing;
  }

  private async setUp(): Promise<string | null> {
    const prepared = await this.prepare();
    if (prepared) return prepared;
    return new Promise((resolve) => {
      const { dns, tcp, udp } = SINKHOLE_PORTS;
      const child = spawn(this.python, ['-I', '-S', this.script, '--uid', String(SINKHOLE_UID), '--dns-port', String(dns), '--tcp-port', String(tcp), '--udp-port', String(udp)], {
        stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1' },
      });
      this.child = child;
      let ready = false;
      const timer = setTimeout(() => { if (!ready) { child.kill('SIGKILL'); resolve('the sinkhole did not start within 60 s'); } }, 60000);
      child.on('error', (e) => { clearTimeout(timer); if (!ready) resolve(`cannot start the sinkhole: ${e.message}`); });
      child.stdin!.on('error', () => undefined);
      let errText = '';
      child.stderr!.on('data', (d: Buffer) => {
        if (errText.length < 4096) errText += d.toString('utf8');
        if (ready) this.log(`sinkhole: ${d.toString('utf8').trim().slice(0, 500)}`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.child = undefined;
        if (!ready) resolve(`the sinkhole ended at start (${signal ?? `exit ${code}`}): ${errText.trim().slice(0, 1000)}`);
        else {
          this.failure = `the sinkhole ended (${signal ?? `exit ${code}`})`;
          this.log(this.failure);
          for (const w of this.flushWaiters.values()) w();
          this.flushWaiters.clear();
        }
      });
      child.stdout!.on('data', (d: Buffer) => this.onData(d, () => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        resolve(null);
      }));
    });
  }

  private onData(d: Buffer, onReady: () => void): void {
    this.pending += d.toString('latin1');
    for (;;) {
      const nl = this.pending.indexOf('\n');
      if (nl < 0) {
        if (this.pending.length > MAX_LINE_BYTES) this.pending = ''; // an endless line is dropped
        return;
      }
      const line = this.pending.slice(0, nl + 1);
      this.pending = this.pending.slice(nl + 1);
      if (line.startsWith('{"ctl":')) {
        const ctl = /^\{"ctl":"(ready|flushed)"(?:,"id":"([0-9a-z-]{1,64})")?/.exec(line);
        if (ctl?.[1] === 'ready') onReady();
        if (ctl?.[1] === 'flushed' && ctl[2]) {
          this.keep(line);
          this.flushWaiters.get(ctl[2])?.();
          this.flushWaiters.delete(ctl[2]);
        }
        continue;
      }
      if (line.length <= MAX_LINE_BYTES) this.keep(line);
    }
  }

  private keep(line: string): void {
    const c = this.current;
    if (!c) return; // traffic outside any sinkhole task (a process left over): not anyone's share
    if (c.bytes + line.length > MAX_TASK_LOG_BYTES) {
      c.dropped++;
      return;
    }
    c.chunks.push(Buffer.from(line, 'latin1'));
    c.bytes += line.length;
  }

  /** A sinkhole task starts: resolves with null when its traffic will be recorded, else why not. */
  async begin(): Promise<string | null> {
    const failure = await this.start();
    this.current = { chunks: [], bytes: 0, dropped: 0 };
    return failure ?? this.failure;
  }

  /** A sinkhole task has ended (all its processes too): its share of the records. */
  async end(): Promise<SinkholeShare> {
    const child = this.child;
    if (child && !this.failure) {
      const id = `f${++this.flushes}`;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.flushWaiters.delete(id);
          this.keep(`{"ctl":"note","text":"the sinkhole did not answer flush within 10 s"}\n`);
          resolve();
        }, 10000);
        this.flushWaiters.set(id, () => { clearTimeout(timer); resolve(); });
        child.stdin!.write(`flush ${id}\n`);
      });
    }
    const c = this.current ?? { chunks: [], bytes: 0, dropped: 0 };
    this.current = undefined;
    const tail: string[] = [];
    if (this.failure) tail.push(JSON.stringify({ ctl: 'unavailable', reason: this.failure.slice(0, 2000) }));
    if (c.dropped) tail.push(JSON.stringify({ ctl: 'note', text: `${c.dropped} records beyond ${MAX_TASK_LOG_BYTES} bytes were left out` }));
    return { data: Buffer.concat([...c.chunks, Buffer.from(tail.map((l) => `${l}\n`).join(''))]) };
  }
}
