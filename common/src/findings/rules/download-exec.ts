/**
 * download-exec: a file written by one process and run by another process of the same trace (exec'd,
 * handed to a shell or interpreter as its script, or chmod +x'ed by it).
 */
import { base, ref, type Rule } from '../rule-kit.js';
import type { Finding } from '../finding.js';
import type { TraceEvent } from '../../trace/trace-events.js';
import { DOWNLOADERS, isPython, SHELLS, INTERPRETERS } from '../programs.js';

type FileEv = Extract<TraceEvent, { kind: 'file' }>;

/** Writers whose outputs are run by design: linkers and compilers (configure's conftest), pip and venv (console scripts). */
function toolWriter(argv: string[] | undefined): boolean {
  if (!argv?.length) return false;
  const name = base(argv[0]!);
  if (/^(ld|ld\.bfd|ld\.gold|ld\.lld|lld|collect2|gcc|g\+\+|cc|c\+\+|clang|clang\+\+|as|cc1|cc1plus|x86_64-linux-gnu-gcc|x86_64-linux-gnu-ld|cmake|ninja|make|gmake|meson|cargo|rustc|go)([-.].*)?$/.test(name)) return true;
  const joined = argv.slice(0, 6).join(' ');
  return (isPython(name) || name === 'pip' || name === 'pip3') && /(^|[\s/])(-m\s+(pip|venv|ensurepip|virtualenv|build)|pip[\d.]*(\s|$)|__pip-runner__|pip\/_internal|virtualenv)/.test(joined);
}

/** The script a shell or interpreter exec runs (its first non-option argument). */
function scriptArg(e: Extract<TraceEvent, { kind: 'exec' }>): string | undefined {
  const name = base(e.path);
  if (!SHELLS.has(name) && !isPython(name) && !INTERPRETERS.has(name)) return undefined;
  for (let i = 1; i < e.argv.length; i++) {
    const a = e.argv[i]!;
    if (a === '-c' || a === '-e' || a === '-m' || a === '-r') return undefined;
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

export const downloadExecRule: Rule = {
  id: 'download-exec',
  description: 'a file written by one process (curl, wget, python, …) and executed, run as a script or made executable by another',
  severity: 'critical',
  technique: 'download-then-execute stagers: `curl -o /tmp/x URL; chmod +x /tmp/x; /tmp/x` or urllib.urlretrieve then subprocess (e.g. the 2022 "pymafka" and 2023 "libiobe" droppers)',
  run(events, phase) {
    const lastExec = new Map<number, string[]>();
    const written = new Map<string, { e: FileEv; writer: string[] | undefined }>();
    const out: Finding[] = [];
    const reported = new Set<string>();
    const hit = (path: string, e: TraceEvent, how: string): void => {
      const w = written.get(path);
      if (!w || w.e.pid === e.pid || toolWriter(w.writer) || reported.has(path)) return;
      reported.add(path);
      const who = w.writer?.length ? base(w.writer[0]!) : `pid ${w.e.pid}`;
      const dl = w.writer?.length && DOWNLOADERS.has(base(w.writer[0]!)) ? ' (downloaded)' : '';
      out.push({
        rule: 'download-exec', severity: 'critical', phase,
        title: `${phase}: ${path} written by ${who}${dl} is ${how} by another process`,
        evidence: [ref(w.e, phase, `${w.e.op} ${path} by ${who} [${(w.writer ?? []).join(' ').slice(0, 200)}]`), ref(e, phase, `${how} ${path} by pid ${e.pid}`)],
      });
    };
    for (const e of events) {
      if (e.kind === 'exec' && e.ok) {
        hit(e.path, e, 'executed');
        const script = scriptArg(e);
        if (script) hit(script, e, 'run as a script');
        lastExec.set(e.pid, e.argv);
      } else if (e.kind === 'fork') {
        const a = lastExec.get(e.pid);
        if (a) lastExec.set(e.child, a);
      } else if (e.kind === 'file' && e.ok) {
        if ((e.op === 'write' || e.op === 'create') && !e.link) written.set(e.path, { e, writer: lastExec.get(e.pid) });
        else if (e.op === 'rename' && e.to && written.has(e.path)) written.set(e.to, written.get(e.path)!);
        else if (e.op === 'chmod' && e.mode !== undefined && (e.mode & 0o111)) hit(e.path, e, 'made executable');
      }
    }
    return out.slice(0, 20);
  },
};
