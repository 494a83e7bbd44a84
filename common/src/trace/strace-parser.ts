/**
 * A streaming parser of `strace -f -ttt -yy -s N` output into ordered trace events (see
 * trace-events.ts): processes (fork/exec/exit/signal), file operations and network operations.
 *
 * It handles `-f` pid prefixes (`123  ` and `[pid 123] `), `<unfinished ...>` / `<... x resumed>`
 * stitching per thread, threads (CLONE_THREAD clones are folded into their process), vfork children
 * whose first lines come before the parent's `vfork resumed`, `+++ exited/killed +++`, `--- SIG ---`,
 * `-yy` decorations (paths and socket endpoints), relative paths (dirfd decorations and a per-process
 * working directory), C escapes, truncated strings, IPv4/IPv6/UNIX addresses, and DNS queries in
 * sends to port 53 (glibc's sendmmsg, sendto, sendmsg, TCP).
 *
 * Security: a trace comes from a VM and is untrusted input. The parser never throws on content:
 * unrecognised lines are counted (`unparsed`), overlong lines are cut and counted, and the number of
 * events is capped (`maxEvents`, the rest counted as `dropped`).
 */
import path from 'node:path';
import type { FileOp, TraceEvent, TraceStats } from './trace-events.js';
import { decodeDnsQuery } from './dns-query.js';
import {
  braced, bytesArg, decorationOf, decorationPath, findOutsideStrings, modeArg, parseReturn,
  parseSockAddr, parseSocketDecoration, splitCall, splitList, stringArg, stringArray,
  type ReturnValue, type SockAddr, type SocketInfo,
} from './strace-args.js';
import { readQuoted } from './c-string.js';

/** Parser limits. */
export interface StraceParserOptions {
  /** Lines longer than this (in bytes) are cut and counted as unparsed. Default 1 MiB. */
  maxLineBytes?: number;
  /** Events beyond this many are counted, not emitted. Default 2,000,000. */
  maxEvents?: number;
}

/** Statistics of one parse, with what was dropped. */
export interface StraceParseStats extends TraceStats {
  /** Events not emitted because `maxEvents` was reached. */
  dropped: number;
}

type Emit = (e: TraceEvent) => void;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type EventBody = DistributiveOmit<TraceEvent, 'seq' | 'time' | 'pid' | 'ppid' | 'line'>;

interface Pending {
  name: string;
  text: string;
  time: number;
  line: number;
  /** For a pending fork-like call: whether a child was already attributed to it. */
  childSeen?: boolean;
}

const FORKS = new Set(['fork', 'vfork', 'clone', 'clone2', 'clone3']);
/**
 * Path-taking file calls by shape: the file op, which argument holds the path (and its dirfd), the
 * new path of a rename or link (and its dirfd), and the mode.
 */
const PATH_CALLS: Record<string, { op: FileOp; path: number; dir?: number; to?: number; toDir?: number; mode?: number }> = {
  unlink: { op: 'delete', path: 0 },
  rmdir: { op: 'delete', path: 0 },
  unlinkat: { op: 'delete', path: 1, dir: 0 },
  rename: { op: 'rename', path: 0, to: 1 },
  renameat: { op: 'rename', path: 1, dir: 0, to: 3, toDir: 2 },
  renameat2: { op: 'rename', path: 1, dir: 0, to: 3, toDir: 2 },
  chmod: { op: 'chmod', path: 0, mode: 1 },
  fchmodat: { op: 'chmod', path: 1, dir: 0, mode: 2 },
  fchmodat2: { op: 'chmod', path: 1, dir: 0, mode: 2 },
  mkdir: { op: 'mkdir', path: 0, mode: 1 },
  mkdirat: { op: 'mkdir', path: 1, dir: 0, mode: 2 },
  symlink: { op: 'create', path: 1 },
  link: { op: 'create', path: 1 },
  symlinkat: { op: 'create', path: 2, dir: 1 },
  linkat: { op: 'create', path: 3, dir: 2 },
  truncate: { op: 'write', path: 0 },
  stat: { op: 'probe', path: 0 },
  lstat: { op: 'probe', path: 0 },
  stat64: { op: 'probe', path: 0 },
  lstat64: { op: 'probe', path: 0 },
  newfstatat: { op: 'probe', path: 1, dir: 0 },
  fstatat64: { op: 'probe', path: 1, dir: 0 },
  statx: { op: 'probe', path: 1, dir: 0 },
  access: { op: 'probe', path: 0 },
  faccessat: { op: 'probe', path: 1, dir: 0 },
  faccessat2: { op: 'probe', path: 1, dir: 0 },
  readlink: { op: 'probe', path: 0 },
  readlinkat: { op: 'probe', path: 1, dir: 0 },
};
/** Calls whose `create` makes a link, not a file with content. */
const LINK_CALLS = new Set(['symlink', 'link', 'symlinkat', 'linkat']);
const FILE_CALLS = new Set(['open', 'openat', 'openat2', 'creat', 'fchmod', 'chdir', 'fchdir', ...Object.keys(PATH_CALLS)]);
const NET_CALLS = new Set(['socket', 'connect', 'bind', 'listen', 'sendto', 'sendmsg', 'sendmmsg']);
const EXEC_CALLS = new Set(['execve', 'execveat']);

const UNFINISHED = ' <unfinished ...>';

/** Streaming strace parser: `push` chunks as they arrive, `end` once. Events go to `onEvent` in order. */
export class StraceParser {
  private readonly maxLine: number;
  private readonly maxEvents: number;
  private partial = '';
  private discarding = false;
  private lineNo = 0;
  private seq = 0;
  private readonly stats: StraceParseStats = { lines: 0, bytes: 0, events: 0, unparsed: 0, unfinished: 0, dropped: 0 };
  /** Unfinished calls per thread id. */
  private readonly pending = new Map<number, Pending>();
  /** Thread id → process id (thread group leader). Processes map to themselves. */
  private readonly leader = new Map<number, number>();
  /** Process id → parent process id. */
  private readonly parent = new Map<number, number>();
  /**
   * Children announced before their fork call returned (vfork), keyed to that call (`tid:line`),
   * so its return does not announce them twice.
   */
  private readonly early = new Map<number, string>();
  /** Working directory per process, from chdir and from AT_FDCWD decorations. */
  private readonly cwd = new Map<number, string>();
  /**
   * Where each process's connected inet sockets point (`pid:fd` → address), from its connects: the
   * -yy decoration names a socket's peer only when the kernel has socket diagnostics (sock_diag).
   */
  private readonly peers = new Map<string, SockAddr>();

  constructor(private readonly onEvent: Emit, options: StraceParserOptions = {}) {
    this.maxLine = options.maxLineBytes ?? 1024 * 1024;
    this.maxEvents = options.maxEvents ?? 2_000_000;
  }

  /** Feeds a chunk of the trace (a Buffer is read as bytes; a string as already-decoded latin1/ASCII). */
  push(chunk: string | Buffer): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    this.stats.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk, 'latin1') : chunk.length;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        this.partial = '';
        continue;
      }
      const line = this.partial ? this.partial + piece : piece;
      this.partial = '';
      this.line(line);
    }
    if (start < text.length && !this.discarding) {
      this.partial += text.slice(start);
      if (this.partial.length > this.maxLine) {
        // Count the cut line now; skip the rest of it up to the next newline.
        this.lineNo++;
        this.stats.lines++;
        this.stats.unparsed++;
        this.partial = '';
        this.discarding = true;
      }
    }
  }

  /** Ends the trace: a final line without newline is parsed; returns the statistics. */
  end(): StraceParseStats {
    if (this.partial && !this.discarding) this.line(this.partial);
    this.partial = '';
    this.stats.unfinished = [...this.pending.values()].filter((p) => p.name !== 'exit' && p.name !== 'exit_group').length;
    this.pending.clear();
    return { ...this.stats };
  }

  // ---- lines -------------------------------------------------------------------------------

  private line(line: string): void {
    this.lineNo++;
    this.stats.lines++;
    if (line.length > this.maxLine) {
      this.stats.unparsed++;
      return;
    }
    // Prefix: `PID  SECS.USEC ` or `[pid PID] SECS.USEC `; both parts optional.
    let i = 0;
    let tid = 0;
    if (line.startsWith('[pid ')) {
      i = 5;
      while (line.charCodeAt(i) === 32) i++;
    }
    const pidStart = i;
    while (i < line.length && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i++;
    if (i > pidStart) tid = Number(line.slice(pidStart, i));
    if (line.charCodeAt(i) === 93 /* ] */) i++;
    while (line.charCodeAt(i) === 32) i++;
    let time = 0;
    const timeStart = i;
    while (i < line.length && ((line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) || line.charCodeAt(i) === 46)) i++;
    if (i > timeStart && line.charCodeAt(i) === 32) {
      time = Number(line.slice(timeStart, i));
      i++;
    } else if (i > timeStart) {
      // Digits not followed by a space: not a timestamp (e.g. a line with no pid prefix).
      i = timeStart;
    }
    if (i === 0 && tid === 0 && !/^[a-z<+-]/.test(line)) {
      this.stats.unparsed++;
      return;
    }
    const rest = i ? line.slice(i) : line;
    const c0 = rest.charCodeAt(0);
    if (c0 === 43 /* + */) this.exitLine(tid, time, rest);
    else if (c0 === 45 /* - */) this.signalLine(tid, time, rest);
    else if (c0 === 60 /* < */) this.resumedLine(tid, time, rest);
    else this.callLine(tid, time, rest);
  }

  private exitLine(tid: number, time: number, rest: string): void {
    const m = /^\+\+\+ (?:exited with (\d+)|killed by (SIG[A-Z0-9+_-]+)(?: \(core dumped\))?) \+\+\+$/.exec(rest);
    if (!m) {
      if (!rest.startsWith('+++ superseded by execve')) this.stats.unparsed++;
      return;
    }
    const pid = this.pidOf(tid, time);
    if (pid !== tid) return; // a thread ended; its process goes on
    if (m[1] !== undefined) this.emit(pid, time, { kind: 'exit', code: Number(m[1]) });
    else this.emit(pid, time, { kind: 'exit', signal: m[2]! });
    this.leader.delete(pid);
    for (const [t, l] of this.leader) if (l === pid) this.leader.delete(t);
  }

  private signalLine(tid: number, time: number, rest: string): void {
    const m = /^--- (SIG[A-Z0-9+_-]+|stopped by (SIG[A-Z0-9+_-]+))/.exec(rest);
    if (!m) {
      this.stats.unparsed++;
      return;
    }
    if (m[2]) return; // a stop notification, not a delivery
    this.emit(this.pidOf(tid, time), time, { kind: 'signal', signal: m[1]! });
  }

  private resumedLine(tid: number, time: number, rest: string): void {
    const m = /^<\.\.\. ([a-z0-9_]+) resumed>/.exec(rest);
    const p = this.pending.get(tid);
    if (!m || !p || p.name !== m[1]) {
      this.stats.unparsed++;
      return;
    }
    this.pending.delete(tid);
    const tail = rest.slice(m[0].length);
    if (tail.endsWith(UNFINISHED)) {
      // Resumed and interrupted again: keep accumulating.
      this.pending.set(tid, { ...p, text: p.text + tail.slice(0, -UNFINISHED.length) });
      return;
    }
    this.call(tid, p.time, p.name, p.text + tail, p.line);
  }

  private callLine(tid: number, time: number, rest: string): void {
    const paren = rest.indexOf('(');
    if (paren <= 0 || !/^[a-z_][a-z0-9_]*$/.test(rest.slice(0, paren))) {
      this.stats.unparsed++;
      return;
    }
    const name = rest.slice(0, paren);
    if (rest.endsWith(UNFINISHED)) {
      this.pidOf(tid, time);
      this.pending.set(tid, { name, text: rest.slice(paren + 1, -UNFINISHED.length), time, line: this.lineNo });
      return;
    }
    this.call(tid, time, name, rest.slice(paren + 1), this.lineNo);
  }

  // ---- processes ---------------------------------------------------------------------------

  /**
   * The process a thread id belongs to. A tid seen for the first time is attributed to a pending
   * fork-like call of another thread (vfork children often run before the parent's call returns).
   */
  private pidOf(tid: number, time: number): number {
    const known = this.leader.get(tid);
    if (known !== undefined) return known;
    let best: [number, Pending] | undefined;
    for (const [t, p] of this.pending) {
      if (t !== tid && FORKS.has(p.name) && !p.childSeen && (!best || p.line > best[1].line)) best = [t, p];
    }
    if (!best) {
      this.leader.set(tid, tid);
      return tid;
    }
    best[1].childSeen = true;
    const parentPid = this.leader.get(best[0]) ?? best[0];
    if (best[1].text.includes('CLONE_THREAD')) {
      this.leader.set(tid, parentPid);
      return parentPid;
    }
    this.newProcess(parentPid, tid, time);
    this.early.set(tid, `${best[0]}:${best[1].line}`);
    return tid;
  }

  private newProcess(parentPid: number, child: number, time: number): void {
    this.leader.set(child, child);
    this.parent.set(child, parentPid);
    const cwd = this.cwd.get(parentPid);
    if (cwd !== undefined) this.cwd.set(child, cwd);
    this.emit(parentPid, time, { kind: 'fork', child });
  }

  private forkDone(tid: number, pid: number, time: number, text: string, ret: ReturnValue, startLine: number): void {
    const child = ret.value;
    if (child === undefined || child <= 0) return;
    if (text.includes('CLONE_THREAD')) {
      if (!this.leader.has(child)) this.leader.set(child, pid);
      return;
    }
    const early = this.early.get(child);
    if (early !== undefined) {
      // The child showed up before this call returned and was attributed to a pending fork then.
      this.early.delete(child);
      if (early !== `${tid}:${startLine}` && this.leader.get(child) === child) this.parent.set(child, pid);
      return;
    }
    this.newProcess(pid, child, time);
  }

  // ---- calls -------------------------------------------------------------------------------

  private call(tid: number, time: number, name: string, text: string, startLine: number): void {
    const pid = this.pidOf(tid, time);
    if (text.startsWith('AT_FDCWD<')) {
      // Paths in decorations have `>` escaped, so the first `>` closes it.
      const cwd = decorationPath(text.slice(9, text.indexOf('>')));
      if (cwd) this.cwd.set(pid, cwd);
    }
    const isFork = FORKS.has(name);
    if (!isFork && !FILE_CALLS.has(name) && !NET_CALLS.has(name) && !EXEC_CALLS.has(name)) return;
    const call = splitCall(text);
    if (!call) {
      this.stats.unparsed++;
      return;
    }
    const ret = parseReturn(call.ret);
    if (isFork) this.forkDone(tid, pid, time, text, ret, startLine);
    else if (EXEC_CALLS.has(name)) this.exec(pid, time, name, call.args, ret);
    else if (FILE_CALLS.has(name)) this.file(pid, time, name, call.args, ret);
    else this.net(pid, time, name, call.args, ret);
  }

  private exec(pid: number, time: number, name: string, args: string[], ret: ReturnValue): void {
    const at = name === 'execveat';
    const file = stringArg(args[at ? 1 : 0]);
    if (file === undefined) return;
    const argv = stringArray(args[at ? 2 : 1]);
    this.emit(pid, time, {
      kind: 'exec', path: this.resolve(pid, at ? args[0] : undefined, file), argv: argv?.items ?? [],
      argvTruncated: argv?.truncated ?? false, ok: ret.value === 0, ...(ret.errno ? { errno: ret.errno } : {}),
    });
  }

  /** Resolves `p` against a dirfd argument's decoration or the process's working directory. */
  private resolve(pid: number, dirArg: string | undefined, p: string): string {
    if (p.startsWith('/')) return normalize(p);
    const base = dirArg !== undefined && dirArg !== 'AT_FDCWD' ? decorationPath(decorationOf(dirArg)) : this.cwd.get(pid);
    if (base === undefined) return p;
    return normalize(p ? `${base}/${p}` : base);
  }

  private fileEvent(pid: number, time: number, op: FileOp, p: string, ret: ReturnValue, extra: { to?: string; mode?: number; link?: boolean } = {}): void {
    const ok = ret.value !== undefined && ret.value >= 0;
    this.emit(pid, time, { kind: 'file', op, path: p, ...extra, ok, ...(ret.errno ? { errno: ret.errno } : {}) });
  }

  private file(pid: number, time: number, name: string, a: string[], ret: ReturnValue): void {
    const shape = PATH_CALLS[name];
    if (shape) {
      const p = stringArg(a[shape.path]);
      if (p === undefined) return;
      const extra: { to?: string; mode?: number; link?: boolean } = {};
      if (shape.to !== undefined) {
        const to = stringArg(a[shape.to]);
        if (to === undefined) return;
        extra.to = this.resolve(pid, shape.toDir === undefined ? undefined : a[shape.toDir], to);
      }
      if (shape.mode !== undefined) Object.assign(extra, optMode(modeArg(a[shape.mode])));
      if (shape.op === 'probe' && p === '' && /AT_EMPTY_PATH/.test(a.join(','))) return; // an fstat of an open fd
      if (LINK_CALLS.has(name)) extra.link = true;
      this.fileEvent(pid, time, shape.op, this.resolve(pid, shape.dir === undefined ? undefined : a[shape.dir], p), ret, extra);
      return;
    }
    switch (name) {
      case 'open':
      case 'openat':
      case 'openat2':
      case 'creat': {
        const at = name !== 'open' && name !== 'creat';
        const p = stringArg(a[at ? 1 : 0]);
        if (p === undefined) return;
        const flags = name === 'creat' ? 'O_CREAT' : name === 'openat2' ? (/flags=([A-Z_|0-9x]+)/.exec(a[2] ?? '')?.[1] ?? '') : (a[at ? 2 : 1] ?? '');
        const op: FileOp = /O_CREAT|O_TMPFILE/.test(flags) ? 'create' : /O_WRONLY|O_RDWR|O_TRUNC|O_APPEND/.test(flags) ? 'write'
          : /O_DIRECTORY/.test(flags) ? 'probe' : 'read';
        this.fileEvent(pid, time, op, this.resolve(pid, at ? a[0] : undefined, p), ret);
        return;
      }
      case 'fchmod': {
        const p = decorationPath(decorationOf(a[0] ?? ''));
        if (p !== undefined) this.fileEvent(pid, time, 'chmod', p, ret, optMode(modeArg(a[1])));
        return;
      }
      case 'chdir': {
        const p = stringArg(a[0]);
        if (p === undefined) return;
        const to = this.resolve(pid, undefined, p);
        this.fileEvent(pid, time, 'probe', to, ret);
        if (ret.value === 0) this.cwd.set(pid, to);
        return;
      }
      case 'fchdir': {
        const p = decorationPath(decorationOf(a[0] ?? ''));
        if (p !== undefined && ret.value === 0) this.cwd.set(pid, p);
        return;
      }
      default:
    }
  }

  private net(pid: number, time: number, name: string, a: string[], ret: ReturnValue): void {
    const sock = parseSocketDecoration(decorationOf(a[0] ?? ''));
    const ok = ret.value !== undefined && ret.value >= 0;
    const status = { ok, ...(ret.errno ? { errno: ret.errno } : {}) };
    const base = (op: 'connect' | 'send' | 'bind' | 'listen', addr: SockAddr): EventBody => ({
      kind: 'net', op, family: addr.family, address: addr.address,
      ...(addr.port !== undefined ? { port: addr.port } : {}),
      ...(sock?.protocol ? { protocol: sock.protocol } : {}), ...status,
    });
    const fdKey = `${pid}:${Number.parseInt(a[0] ?? '', 10)}`;
    const remote = (): SockAddr | undefined => remoteOf(sock) ?? this.peers.get(fdKey);
    switch (name) {
      case 'socket':
        if (ret.value !== undefined && ret.value >= 0) this.peers.delete(`${pid}:${ret.value}`);
        return;
      case 'connect':
      case 'bind': {
        const addr = parseSockAddr(a[1]);
        if (name === 'connect') {
          if (addr && (addr.family === 'inet' || addr.family === 'inet6') && (ok || ret.errno === 'EINPROGRESS')) this.peers.set(fdKey, addr);
          else if (!addr) this.peers.delete(fdKey); // AF_UNSPEC: dissolved
        }
        if (addr && addr.family !== 'netlink') this.emit(pid, time, base(name, addr));
        return;
      }
      case 'listen': {
        const local = sock?.local;
        if (sock?.family && local) this.emit(pid, time, base('listen', { family: sock.family as SockAddr['family'], address: local.address, port: local.port }));
        return;
      }
      case 'sendto': {
        const dest = parseSockAddr(a[4]) ?? remote();
        if (dest) this.send(pid, time, base, dest, sock, a[4] !== undefined && a[4] !== 'NULL', bytesArg(a[1]));
        return;
      }
      case 'sendmsg': {
        const msg = a[1] ?? '';
        const dest = msgName(msg) ?? remote();
        if (dest) this.send(pid, time, base, dest, sock, msgName(msg) !== undefined, iovBytes(msg));
        return;
      }
      case 'sendmmsg': {
        const list = a[1]?.startsWith('[') ? splitList(a[1], 1) : null;
        for (const item of list?.items ?? []) {
          if (item === '...') continue;
          const dest = msgName(item) ?? remote();
          if (dest) this.send(pid, time, base, dest, sock, msgName(item) !== undefined, iovBytes(item));
        }
        return;
      }
      default:
    }
  }

  /**
   * A send: reported when it names its destination, or when it goes to port 53 (then its payload is
   * decoded as a DNS query). Sends on connected sockets to other ports were reported at connect.
   */
  private send(
    pid: number, time: number, base: (op: 'send', addr: SockAddr) => EventBody, dest: SockAddr,
    sock: SocketInfo | undefined, explicit: boolean, payload: Uint8Array | undefined,
  ): void {
    if (dest.family === 'netlink') return;
    const dnsPort = (dest.family === 'inet' || dest.family === 'inet6') && dest.port === 53;
    if (!explicit && !dnsPort) return;
    const body = base('send', dest);
    if (dnsPort && payload && body.kind === 'net') {
      const q = decodeDnsQuery(payload, sock?.protocol === 'tcp');
      if (q) body.dns = { name: q.name, type: q.type };
    }
    this.emit(pid, time, body);
  }

  private emit(pid: number, time: number, body: EventBody): void {
    if (this.stats.events >= this.maxEvents) {
      this.stats.dropped++;
      return;
    }
    this.stats.events++;
    const ppid = this.parent.get(pid);
    this.onEvent({ seq: this.seq++, time, pid, ...(ppid !== undefined ? { ppid } : {}), line: this.lineNo, ...body } as TraceEvent);
  }
}

function optMode(mode: number | undefined): { mode?: number } {
  return mode === undefined ? {} : { mode };
}

function normalize(p: string): string {
  if (!p.includes('/.') && !p.includes('//') && !p.endsWith('/')) return p;
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function remoteOf(sock: SocketInfo | undefined): SockAddr | undefined {
  if (!sock?.remote || (sock.family !== 'inet' && sock.family !== 'inet6')) return undefined;
  return { family: sock.family, address: sock.remote.address, port: sock.remote.port };
}

/** The `msg_name={…}` sockaddr of a msghdr's text, if any. */
function msgName(msg: string): SockAddr | undefined {
  const at = findOutsideStrings(msg, 'msg_name=');
  return at < 0 ? undefined : parseSockAddr(braced(msg, at));
}

/** The concatenated `iov_base="…"` payloads of a msghdr's text. */
function iovBytes(msg: string): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (;;) {
    const at = findOutsideStrings(msg, 'iov_base=', from);
    if (at < 0) break;
    const q = readQuoted(msg, at);
    if (!q) break;
    parts.push(q.bytes);
    from = q.end;
  }
  if (!parts.length) return undefined;
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Parses a whole trace. Never throws on content; see StraceParser. */
export function parseStrace(input: string | Buffer, options?: StraceParserOptions): { events: TraceEvent[]; stats: StraceParseStats } {
  const events: TraceEvent[] = [];
  const parser = new StraceParser((e) => events.push(e), options);
  parser.push(input);
  return { events, stats: parser.end() };
}
