/**
 * Hand-written shape checks of the command API's params: everything a slave sends is untrusted.
 * A violation throws InvalidParamsError naming the field (JSON-RPC -32602, `PYTI_RPC_INVALID`).
 */
import { PytiError } from '@pyti/vm-agent';
import {
  COMMAND_LIMITS, COMMAND_PROTOCOL_VERSION, JOB_PHASES, VERDICTS as JUDGED_VERDICTS, applyJudgement, renderHtml, type AuditReport,
  type CompleteParams, type HeartbeatParams, type JobPhase, type JobProgressEvent, type LeaseParams, type PrefetchSummary, type ProgressParams, type RegisterParams,
} from '@pyti/common';
import { decideResult, ReportRejectedError } from './report-consistency.js';

/** A params field is missing or has the wrong shape. */
export class InvalidParamsError extends PytiError {
  constructor(readonly field: string, why: string) {
    super('PYTI_RPC_INVALID', `params.${field}: ${why}`);
  }
}

/** The slave speaks another protocol version. */
export class ProtocolVersionError extends PytiError {
  constructor(got: unknown) {
    super('PYTI_RPC_INVALID', `protocol version ${JSON.stringify(got)} is not ${COMMAND_PROTOCOL_VERSION}: upgrade the slave or the master`);
  }
}

/** Largest stored report JSON. */
export const MAX_REPORT_BYTES = 12 * 1024 * 1024;
const MAX_MESSAGE = 4096;
/** Verdicts a slave may send: today's, and `flagged` from older slaves (the master re-judges either way). */
const VERDICTS: ReadonlySet<string> = new Set([...JUDGED_VERDICTS, 'flagged']);
const PHASES: ReadonlySet<string> = new Set(JOB_PHASES);

type Obj = Record<string, unknown>;

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidParamsError(field, 'must be an object');
  return v as Obj;
}

function str(o: Obj, key: string, path: string, max: number, re?: RegExp): string {
  const v = o[key];
  if (typeof v !== 'string') throw new InvalidParamsError(`${path}${key}`, 'must be a string');
  if (v.length === 0 || v.length > max) throw new InvalidParamsError(`${path}${key}`, `must be 1-${max} characters`);
  if (re && !re.test(v)) throw new InvalidParamsError(`${path}${key}`, `${JSON.stringify(v.slice(0, 80))} does not match ${re.source}`);
  return v;
}

/** A string, truncated to `max` characters (for human text). */
function text(o: Obj, key: string, path: string, max: number): string {
  const v = o[key];
  if (typeof v !== 'string') throw new InvalidParamsError(`${path}${key}`, 'must be a string');
  return v.length > max ? `${v.slice(0, max)}…` : v;
}

function int(o: Obj, key: string, path: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new InvalidParamsError(`${path}${key}`, `must be an integer in ${min}..${max}`);
  return v;
}

function num(o: Obj, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidParamsError(`${path}${key}`, 'must be a non-negative number');
  return v;
}

function bool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new InvalidParamsError(`${path}${key}`, 'must be a boolean');
  return v;
}

function arr(o: Obj, key: string, path: string, min: number, max: number): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new InvalidParamsError(`${path}${key}`, 'must be an array');
  if (v.length < min || v.length > max) throw new InvalidParamsError(`${path}${key}`, `must have ${min}-${max} items`);
  return v;
}

function strings(o: Obj, key: string, path: string, min: number, max: number, itemMax: number, re?: RegExp): string[] {
  const items = arr(o, key, path, min, max);
  return items.map((_, i) => str(items as unknown as Obj, String(i), `${path}${key}.`, itemMax, re));
}

const LEASE_ID = /^[A-Za-z0-9_-]+$/;

/** Checks `slave.register` params. */
export function checkRegister(p: unknown): RegisterParams {
  const o = obj(p, '');
  if (o.protocolVersion !== COMMAND_PROTOCOL_VERSION) throw new ProtocolVersionError(o.protocolVersion);
  const c = obj(o.capabilities, 'capabilities');
  const cp = 'capabilities.';
  return {
    protocolVersion: COMMAND_PROTOCOL_VERSION,
    version: str(o, 'version', '', 100),
    host: str(o, 'host', '', 255),
    capabilities: {
      backends: strings(c, 'backends', cp, 1, 16, 32, /^[a-z][a-z0-9-]*$/),
      python: str(c, 'python', cp, 10, /^\d+\.\d+$/),
      platforms: strings(c, 'platforms', cp, 0, 64, 100, /^[A-Za-z0-9_.-]+$/),
      implementation: str(c, 'implementation', cp, 10, /^[a-z]+$/),
      abi: str(c, 'abi', cp, 32, /^[A-Za-z0-9_]+$/),
      concurrency: int(c, 'concurrency', cp, 1, 256),
    },
  };
}

/** Checks `jobs.lease` params. */
export function checkLease(p: unknown): LeaseParams {
  const o = obj(p, '');
  return { max: int(o, 'max', '', 1, 100), waitMs: int(o, 'waitMs', '', 0, 3_600_000) };
}

/** Checks `slave.heartbeat` params. */
export function checkHeartbeat(p: unknown): HeartbeatParams {
  const o = obj(p, '');
  const leases = strings(o, 'leases', '', 0, 1000, 128, LEASE_ID);
  const draining = bool(o, 'draining', '');
  if (o.pools === undefined) return { leases, draining };
  const pools = arr(o, 'pools', '', 0, 16).map((v, i) => {
    const path = `pools.${i}.`;
    const p = obj(v, `pools.${i}`);
    const size = int(p, 'size', path, 0, 64);
    const ready = int(p, 'ready', path, 0, 64);
    if (ready > size) throw new InvalidParamsError(`${path}ready`, `must not exceed size (${size})`);
    return { backend: str(p, 'backend', path, 32, /^[a-z][a-z0-9-]*$/), size, ready };
  });
  return { leases, draining, pools };
}

function checkEvent(v: unknown, path: string): JobProgressEvent {
  const e = obj(v, path.slice(0, -1));
  const at = num(e, 'at', path);
  switch (e.kind) {
    case 'phase': {
      const phase = str(e, 'phase', path, 20);
      if (!PHASES.has(phase)) throw new InvalidParamsError(`${path}phase`, `must be one of ${[...PHASES].join(', ')}`);
      return { at, kind: 'phase', phase: phase as JobPhase };
    }
    case 'task-started':
      return { at, kind: 'task-started', task: str(e, 'task', path, 100) };
    case 'task-finished': {
      const ev: JobProgressEvent = { at, kind: 'task-finished', task: str(e, 'task', path, 100), status: str(e, 'status', path, 50) };
      if (e.durationMs !== undefined) ev.durationMs = num(e, 'durationMs', path);
      return ev;
    }
    case 'log':
      return { at, kind: 'log', text: text(e, 'text', path, COMMAND_LIMITS.maxLogText) };
    default:
      throw new InvalidParamsError(`${path}kind`, 'must be phase, task-started, task-finished or log');
  }
}

/** Checks `jobs.progress` params. */
export function checkProgress(p: unknown): ProgressParams {
  const o = obj(p, '');
  const leaseId = str(o, 'leaseId', '', 128, LEASE_ID);
  const events = arr(o, 'events', '', 0, COMMAND_LIMITS.maxProgressEvents).map((e, i) => checkEvent(e, `events.${i}.`));
  return { leaseId, events };
}

/** An artifact name: a relative path without `.`/`..`/empty segments, control characters or backslashes. */
export function safeArtifactName(name: string): boolean {
  if (name.length === 0 || name.length > 512 || name.startsWith('/')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(name)) return false;
  return name.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function checkPrefetch(v: unknown): PrefetchSummary {
  const o = obj(v, 'outcome.prefetch');
  const path = 'outcome.prefetch.';
  const pf: PrefetchSummary = {
    wheels: strings(o, 'wheels', path, 0, 10_000, 300),
    downloaded: int(o, 'downloaded', path, 0, 10_000),
    durationMs: num(o, 'durationMs', path),
  };
  if (o.error !== undefined) pf.error = text(o, 'error', path, 64 * 1024);
  if (o.testRequirements !== undefined) pf.testRequirements = checkTestRequirements(o.testRequirements);
  return pf;
}

/** `outcome.prefetch.testRequirements`: resolved requirements with their sources (parallel lists), the unresolved ones with pip's reason, and the relaxed pins. */
function checkTestRequirements(v: unknown): NonNullable<PrefetchSummary['testRequirements']> {
  const path = 'outcome.prefetch.testRequirements.';
  const o = obj(v, path.slice(0, -1));
  const requirements = strings(o, 'requirements', path, 0, 1000, 500);
  const sources = strings(o, 'sources', path, 0, 1000, 500);
  if (sources.length !== requirements.length) throw new InvalidParamsError(`${path}sources`, 'must have one item per requirement');
  const unresolved = arr(o, 'unresolved', path, 0, 1000).map((u, i) => {
    const p = `${path}unresolved.${i}.`;
    const e = obj(u, p.slice(0, -1));
    return { requirement: str(e, 'requirement', p, 500), reason: text(e, 'reason', p, MAX_MESSAGE) };
  });
  if (o.relaxed === undefined) return { requirements, unresolved, sources };
  const relaxed = arr(o, 'relaxed', path, 0, 1000).map((x, i) => {
    const p = `${path}relaxed.${i}.`;
    const e = obj(x, p.slice(0, -1));
    return { requirement: str(e, 'requirement', p, 500), relaxedTo: str(e, 'relaxedTo', p, 500) };
  });
  return { requirements, unresolved, sources, relaxed };
}

/** A report outcome checked for basic shape, with what the queue stores. */
export interface CheckedReport {
  kind: 'report';
  reportJson: string;
  /** The master's verdict, recomputed from the report's findings (the slave's is not trusted). */
  verdict: string;
  /** The master's score (see the slave's `judge`). */
  score: number;
  result: string;
  findings: number;
  artifacts: { name: string; sha256: string; sizeBytes: number }[];
  prefetch?: PrefetchSummary;
}

/**
 * Re-judges a slave's report in place from its findings (findings of unknown shape earn nothing):
 * verdict, score, score reasons, highest severity and observation are the master's, whatever the
 * slave said. A distribution of the wrong shape is replaced by an empty one for the observation.
 */
export function rejudge(report: Obj, result: string): { verdict: string; score: number } {
  if (!Array.isArray(report.findings)) report.findings = [];
  report.findings = (report.findings as unknown[]).filter((f) => typeof f === 'object' && f !== null && !Array.isArray(f));
  const d = (typeof report.distribution === 'object' && report.distribution !== null ? report.distribution : {}) as Obj;
  const s = (k: string): string => (typeof d[k] === 'string' ? (d[k] as string).slice(0, 300) : '');
  const view = { findings: report.findings as AuditReport['findings'], result, distribution: { ...d, name: s('name'), version: s('version'), filename: s('filename'), sha256: s('sha256') } } as Pick<AuditReport, 'findings' | 'result' | 'distribution'> & Partial<AuditReport>;
  applyJudgement(view);
  report.verdict = view.verdict;
  report.score = view.score;
  report.scoreReasons = view.scoreReasons;
  report.maxSeverity = view.maxSeverity;
  if (view.observation) report.observation = view.observation;
  else delete report.observation;
  return { verdict: view.verdict!, score: view.score! };
}

/** Rejects a report renderHtml cannot render (the page would have nothing to show). */
function checkRenders(report: Obj): void {
  try {
    renderHtml(report as unknown as AuditReport);
  } catch (err) {
    throw new ReportRejectedError('the report cannot be rendered', [`renderHtml: ${String((err as Error)?.message ?? err).slice(0, 500)}`]);
  }
}

/** Checks `jobs.complete` params (the report's shape, size and artifact names; not the blobs). */
export function checkComplete(p: unknown): { leaseId: string; outcome: CheckedReport | Extract<CompleteParams['outcome'], { kind: 'error' }> } {
  const o = obj(p, '');
  const leaseId = str(o, 'leaseId', '', 128, LEASE_ID);
  const out = obj(o.outcome, 'outcome');
  if (out.kind === 'error') {
    return {
      leaseId,
      outcome: {
        kind: 'error',
        code: str(out, 'code', 'outcome.', 64, /^PYTI_[A-Z_]+$/),
        message: text(out, 'message', 'outcome.', MAX_MESSAGE),
        retry: bool(out, 'retry', 'outcome.'),
      },
    };
  }
  if (out.kind !== 'report') throw new InvalidParamsError('outcome.kind', 'must be report or error');
  const report = obj(out.report, 'outcome.report');
  const verdict = str(report, 'verdict', 'outcome.report.', 20);
  if (!VERDICTS.has(verdict)) throw new InvalidParamsError('outcome.report.verdict', `must be one of ${[...VERDICTS].join(', ')}`);
  const claimed = str(report, 'result', 'outcome.report.', 100, /^[a-z][a-z0-9:-]*$/);
  let result: string;
  let judged: { verdict: string; score: number };
  try {
    result = decideResult(report, claimed).result;
    judged = rejudge(report, result);
    checkRenders(report);
  } catch (err) {
    throw err instanceof ReportRejectedError ? err.forLease(leaseId) : err;
  }
  const reportJson = JSON.stringify(report);
  if (Buffer.byteLength(reportJson) > MAX_REPORT_BYTES) throw new InvalidParamsError('outcome.report', `is larger than ${MAX_REPORT_BYTES} bytes`);
  const findings = Array.isArray(report.findings)
    ? report.findings.filter((f) => typeof f === 'object' && f !== null && (f as Obj).severity !== 'info').length
    : 0;
  const names = new Set<string>();
  const artifacts = arr(out, 'artifacts', 'outcome.', 0, COMMAND_LIMITS.maxArtifacts).map((v, i) => {
    const path = `outcome.artifacts.${i}.`;
    const a = obj(v, path.slice(0, -1));
    const name = str(a, 'name', path, 512);
    if (!safeArtifactName(name)) throw new InvalidParamsError(`${path}name`, 'must be a relative path without ., .. or empty segments');
    if (names.has(name)) throw new InvalidParamsError(`${path}name`, `${JSON.stringify(name)} is listed twice`);
    names.add(name);
    return { name, sha256: str(a, 'sha256', path, 64, /^[0-9a-f]{64}$/), sizeBytes: int(a, 'sizeBytes', path, 0, COMMAND_LIMITS.maxBlobBytes) };
  });
  const checked: CheckedReport = { kind: 'report', reportJson, verdict: judged.verdict, score: judged.score, result, findings, artifacts };
  if (out.prefetch !== undefined) checked.prefetch = checkPrefetch(out.prefetch);
  return { leaseId, outcome: checked };
}
