/**
 * How far the audit got into the package's payload (report field `reach`): which fallback modules
 * (undeclared imports served by the image's /opt/pyti/fallback-modules) each traced phase used,
 * which Windows programs the shims stood in for (raw `<task>/windows-shims.jsonl`), and what the
 * execute task called (raw `execute/execute.json`). Everything here came out of the sandbox: shapes
 * are checked and sizes capped.
 */
import type { Phase } from '../findings/finding.js';
import type { AuditReport } from './audit-report.js';

/** Looks up one raw file of one task (undefined when the task left no such file). */
export type ReachRawLookup = (task: string, name: string) => Buffer | undefined;

/** Where the guest image keeps the fallback modules. */
export const FALLBACK_MODULES_DIR = '/opt/pyti/fallback-modules';
/** The shims' log, in the raw directory of each traced task. */
export const WINDOWS_SHIM_LOG = 'windows-shims.jsonl';

/** One call of a Windows program shim (or of os.startfile). */
export interface WindowsCommand {
  phase: Phase;
  /** The program as called, e.g. `powershell`, `cmd.exe`, `C:\\x\\evil.exe`, `os.startfile`. */
  program: string;
  argv: string[];
  /** PowerShell's -EncodedCommand, decoded (base64 UTF-16LE). */
  decoded?: string;
  pid: number;
  /** 1-based line of the entry in the phase's shim log. */
  line: number;
}

/** One call the execute task made. */
export interface ExecuteCall {
  kind: string;
  target: string;
  outcome: string;
  detail: string;
}

export interface ReachSummary {
  /** Fallback modules a phase opened: the payload imported them without declaring them. */
  fallbackModulesUsed: { phase: Phase; module: string }[];
  windowsCommands: WindowsCommand[];
  execute?: { calls: ExecuteCall[]; truncated: boolean; outcomes: Record<string, number> };
}

const TRACED: readonly Phase[] = ['build', 'install', 'import', 'execute'];
const MAX_COMMANDS_PER_PHASE = 200;
const MAX_CALLS = 500;
const cap = (v: unknown, n: number): string => (typeof v === 'string' ? v : String(v ?? '')).slice(0, n);

/** The fallback modules each phase's trace shows opened (files under FALLBACK_MODULES_DIR). */
export function fallbackModulesUsed(traces: AuditReport['traces']): ReachSummary['fallbackModulesUsed'] {
  const out: ReachSummary['fallbackModulesUsed'] = [];
  for (const phase of TRACED) {
    const seen = new Set<string>();
    for (const f of traces[phase]?.files ?? []) {
      if (!f.path.startsWith(`${FALLBACK_MODULES_DIR}/`) || !f.ops.includes('read')) continue;
      const first = f.path.slice(FALLBACK_MODULES_DIR.length + 1).split('/')[0]!;
      const module = first.replace(/\.(py|pyc|so)$/, '').split('.')[0]!;
      if (module && !seen.has(module)) {
        seen.add(module);
        out.push({ phase, module: module.slice(0, 100) });
      }
    }
  }
  return out;
}

/** The Windows shims' logs of the traced tasks, validated. */
export function readWindowsCommands(raw: ReachRawLookup): WindowsCommand[] {
  const out: WindowsCommand[] = [];
  for (const phase of TRACED) {
    const buf = raw(phase, WINDOWS_SHIM_LOG);
    if (!buf) continue;
    const lines = buf.subarray(0, 2 * 1024 * 1024).toString('utf8').split('\n');
    let n = 0;
    for (let i = 0; i < lines.length && n < MAX_COMMANDS_PER_PHASE; i++) {
      let e: unknown;
      try {
        e = JSON.parse(lines[i]!);
      } catch {
        continue;
      }
      if (typeof e !== 'object' || e === null || typeof (e as { shim?: unknown }).shim !== 'string') continue;
      const o = e as Record<string, unknown>;
      const argv = Array.isArray(o.argv) ? o.argv.slice(0, 64).map((a) => cap(a, 2000)) : [];
      out.push({
        phase, program: cap(o.shim, 200), argv, pid: Number.isInteger(o.pid) ? (o.pid as number) : 0, line: i + 1,
        ...(typeof o.decoded === 'string' ? { decoded: o.decoded.slice(0, 8000) } : {}),
      });
      n++;
    }
  }
  return out;
}

/** The execute task's execute.json, validated. */
export function readExecute(raw: ReachRawLookup): ReachSummary['execute'] {
  const buf = raw('execute', 'execute.json');
  if (!buf) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || !Array.isArray((v as { calls?: unknown }).calls)) return undefined;
  const o = v as { calls: unknown[]; truncated?: unknown };
  const calls = o.calls.slice(0, MAX_CALLS).filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
    .map((c) => ({ kind: cap(c.kind, 40), target: cap(c.target, 300), outcome: cap(c.outcome, 40), detail: cap(c.detail, 500) }));
  const outcomes: Record<string, number> = {};
  for (const c of calls) outcomes[c.outcome] = (outcomes[c.outcome] ?? 0) + 1;
  return { calls, truncated: o.truncated === true || o.calls.length > MAX_CALLS, outcomes };
}

/** The report's `reach` field (`windowsCommands`: the shims' logs when the caller has read them already). */
export function buildReach(raw: ReachRawLookup, traces: AuditReport['traces'], windowsCommands: WindowsCommand[] = readWindowsCommands(raw)): ReachSummary {
  const execute = readExecute(raw);
  return { fallbackModulesUsed: fallbackModulesUsed(traces), windowsCommands, ...(execute ? { execute } : {}) };
}
