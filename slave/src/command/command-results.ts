/**
 * Shape checks of the master's answers. The master is remote: nothing it sends is used before it has
 * been checked against the method table's result type (types, bounded strings and arrays, hex hashes).
 * A mismatch is `PYTI_RPC_INVALID`.
 *
 * Security: a job's source and ids end up in file names and URLs on the slave; they are checked again
 * where they are used (file names by the index client and the daemon), but never trusted here either.
 */
import { PytiError } from '@pyti/vm-agent';
import type {
  AuditSource, CommandMethod, CommandResult, CompleteResult, HeartbeatResult, LeasedJob, LeaseResult,
  ProgressResult, RegisterResult, SlaveCommand,
} from '@pyti/common';

class Shape extends Error {}

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Shape(`${where} is not an object`);
  return v as Obj;
}
function str(v: unknown, where: string, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new Shape(`${where} is not a string of 1..${max} characters`);
  return v;
}
function num(v: unknown, where: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new Shape(`${where} is not a number ≥ ${min}`);
  return v;
}
function int(v: unknown, where: string, min = 0): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new Shape(`${where} is not an integer ≥ ${min}`);
  return v as number;
}
function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new Shape(`${where} is not a boolean`);
  return v;
}
function arr(v: unknown, where: string, max = 1000): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw new Shape(`${where} is not an array of at most ${max}`);
  return v;
}

/** A sha256 as the protocol writes it: 64 lower-case hex digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** A full git commit id (SHA-1): 40 lower-case hex digits. */
export const COMMIT_HEX = /^[0-9a-f]{40}$/;

function source(v: unknown, where: string): AuditSource {
  const o = obj(v, where);
  if (o.kind === 'index') {
    const s: AuditSource = { kind: 'index', project: str(o.project, `${where}.project`, 200), version: str(o.version, `${where}.version`, 100) };
    if (o.filename !== undefined && o.filename !== null) s.filename = str(o.filename, `${where}.filename`, 255);
    return s;
  }
  if (o.kind === 'upload') {
    const sha256 = str(o.sha256, `${where}.sha256`, 64);
    if (!SHA256_HEX.test(sha256)) throw new Shape(`${where}.sha256 is not a lower-case hex sha256`);
    return { kind: 'upload', filename: str(o.filename, `${where}.filename`, 255), sha256, sizeBytes: int(o.sizeBytes, `${where}.sizeBytes`) };
  }
  if (o.kind === 'git') {
    const commit = str(o.commit, `${where}.commit`, 40);
    if (!COMMIT_HEX.test(commit)) throw new Shape(`${where}.commit is not a commit id (40 lower-case hex digits)`);
    const a = obj(o.archive, `${where}.archive`);
    const sha256 = str(a.sha256, `${where}.archive.sha256`, 64);
    if (!SHA256_HEX.test(sha256)) throw new Shape(`${where}.archive.sha256 is not a lower-case hex sha256`);
    const repo = str(o.repo, `${where}.repo`, 1024);
    const branch = str(o.branch, `${where}.branch`, 255);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(repo + branch)) throw new Shape(`${where}.repo or .branch has control characters`);
    return {
      kind: 'git', project: str(o.project, `${where}.project`, 200), repo, branch, commit,
      archive: { sha256, sizeBytes: int(a.sizeBytes, `${where}.archive.sizeBytes`, 1) },
    };
  }
  throw new Shape(`${where}.kind is not "index", "upload" or "git"`);
}

function leasedJob(v: unknown, where: string): LeasedJob {
  const o = obj(v, where);
  return {
    jobId: str(o.jobId, `${where}.jobId`, 200),
    leaseId: str(o.leaseId, `${where}.leaseId`, 200),
    attempt: int(o.attempt, `${where}.attempt`, 1),
    source: source(o.source, `${where}.source`),
    backend: str(o.backend, `${where}.backend`, 100),
    leaseExpiresAt: num(o.leaseExpiresAt, `${where}.leaseExpiresAt`),
  };
}

function command(v: unknown, where: string): SlaveCommand | null {
  const o = obj(v, where);
  if (o.kind === 'cancel') return { kind: 'cancel', jobId: str(o.jobId, `${where}.jobId`, 200), leaseId: str(o.leaseId, `${where}.leaseId`, 200) };
  if (o.kind === 'drain') return { kind: 'drain' };
  return null; // a command from a newer master: ignored
}

const checks: { [M in CommandMethod]: (v: unknown) => CommandResult<M> } = {
  'slave.register': (v): RegisterResult => {
    const o = obj(v, 'result');
    return {
      slave: str(o.slave, 'result.slave', 200),
      leaseMs: num(o.leaseMs, 'result.leaseMs', 1),
      heartbeatMs: num(o.heartbeatMs, 'result.heartbeatMs', 1),
      maxWaitMs: num(o.maxWaitMs, 'result.maxWaitMs'),
    };
  },
  'jobs.lease': (v): LeaseResult => {
    const o = obj(v, 'result');
    return { jobs: arr(o.jobs, 'result.jobs', 1000).map((j, i) => leasedJob(j, `result.jobs[${i}]`)) };
  },
  'slave.heartbeat': (v): HeartbeatResult => {
    const o = obj(v, 'result');
    return {
      extended: arr(o.extended, 'result.extended', 10_000).map((e, i) => {
        const x = obj(e, `result.extended[${i}]`);
        return { leaseId: str(x.leaseId, `result.extended[${i}].leaseId`, 200), leaseExpiresAt: num(x.leaseExpiresAt, `result.extended[${i}].leaseExpiresAt`) };
      }),
      lost: arr(o.lost, 'result.lost', 10_000).map((l, i) => str(l, `result.lost[${i}]`, 200)),
      commands: arr(o.commands, 'result.commands', 10_000).map((c, i) => command(c, `result.commands[${i}]`)).filter((c): c is SlaveCommand => c !== null),
    };
  },
  'jobs.progress': (v): ProgressResult => ({ valid: bool(obj(v, 'result').valid, 'result.valid') }),
  'jobs.complete': (v): CompleteResult => ({ stored: bool(obj(v, 'result').stored, 'result.stored') }),
};

/** Checks `value` against `method`'s result type; returns a fresh, checked copy or throws PYTI_RPC_INVALID. */
export function checkCommandResult<M extends CommandMethod>(method: M, value: unknown): CommandResult<M> {
  try {
    return checks[method](value);
  } catch (err) {
    if (err instanceof Shape) throw new PytiError('PYTI_RPC_INVALID', `the master's answer to ${method} is malformed: ${err.message}`);
    throw err;
  }
}
