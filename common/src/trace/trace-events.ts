/**
 * Events decoded from `strace -f -ttt -yy -s 512` output: the vocabulary of install traces.
 * Produced by the streaming parser (strace-parser.ts); consumed by the process tree, the file
 * table and the findings rules.
 */

/** Fields every event has. */
export interface TraceEventBase {
  /** Position in the trace (0-based, increasing). */
  seq: number;
  /** Seconds since the epoch (strace -ttt), microsecond resolution. */
  time: number;
  pid: number;
  /** Parent pid when known (from the fork/clone that created `pid`), else undefined. */
  ppid?: number;
  /** 1-based line number in the trace where the call completed (evidence). */
  line: number;
}

/**
 * What a file call did. `probe`: looked at a path without reading it (the stat family, access,
 * chdir, an open of a directory): what a stealer's sweep for credential places is made of.
 */
export type FileOp = 'read' | 'write' | 'create' | 'delete' | 'rename' | 'chmod' | 'mkdir' | 'probe';

export type TraceEvent =
  /** execve/execveat; `ok` false for a failed attempt (e.g. ENOENT while searching PATH). */
  | (TraceEventBase & { kind: 'exec'; path: string; argv: string[]; argvTruncated: boolean; ok: boolean; errno?: string })
  /** fork/vfork/clone/clone3 that created a process (threads, CLONE_THREAD, are not reported). */
  | (TraceEventBase & { kind: 'fork'; child: number })
  /** `+++ exited with N +++` or `+++ killed by SIG +++`. */
  | (TraceEventBase & { kind: 'exit'; code?: number; signal?: string })
  /** `--- SIGxxx {...} ---`: a signal delivered to `pid`. */
  | (TraceEventBase & { kind: 'signal'; signal: string })
  /**
   * A file operation. `path` is absolute when it could be resolved (from a -yy fd decoration or the
   * dirfd's path), else as written. For rename, `to` is the new path; for chmod and mkdir, `mode`;
   * `link` marks a `create` that made a (sym)link rather than a file with content.
   */
  | (TraceEventBase & { kind: 'file'; op: FileOp; path: string; to?: string; mode?: number; link?: boolean; ok: boolean; errno?: string })
  /**
   * A network operation. For inet/inet6, `address` and `port`; for unix, `address` is the socket
   * path (`@name` for abstract). `dns` is set when the payload decodes as a DNS query.
   */
  | (TraceEventBase & {
      kind: 'net';
      op: 'connect' | 'send' | 'bind' | 'listen';
      family: 'inet' | 'inet6' | 'unix' | 'netlink' | 'other';
      address: string;
      port?: number;
      protocol?: 'tcp' | 'udp';
      ok: boolean;
      errno?: string;
      dns?: { name: string; type: string };
    });

/** Counts the parser keeps about what it read. */
export interface TraceStats {
  lines: number;
  bytes: number;
  events: number;
  /** Lines that were not strace syscall/signal/exit lines (kept as a count, never thrown on). */
  unparsed: number;
  /** `<unfinished ...>` calls never resumed by the end of the trace. */
  unfinished: number;
}
