/**
 * What the dynamic rules share: the rule shape, the context (guest paths, home aliases, bait), the
 * evidence helpers and the path predicates. Each rule lives in `rules/<id>.ts`.
 */
import type { TraceEvent } from '../trace/trace-events.js';
import type { EvidenceRef, Finding, Phase, RuleInfo, Severity } from './finding.js';

/** Guest paths the rules need. */
export interface RuleContext {
  home: string;
  work: string;
  tmp: string;
  /**
   * Other names of the home (a symlink, or the real path of a home that lives on another mount):
   * every "under home" check tries all of them, and `/root`.
   */
  homeAliases?: string[];
  /** Absolute guest paths of the files the bait task planted (reading one is `bait-read`). */
  baitFiles?: string[];
}

/** A per-phase dynamic rule: its declaration and a pure function of one phase's events. */
export interface Rule extends RuleInfo {
  run(events: TraceEvent[], phase: Phase, ctx: RuleContext): Finding[];
}

/** At most this many evidence lines per finding. */
export const MAX_EVIDENCE = 20;

/** One evidence line pointing at an event. */
export function ref(e: TraceEvent, phase: Phase, summary: string): EvidenceRef {
  return { phase, seq: e.seq, line: e.line, pid: e.pid, summary: summary.slice(0, 500) };
}

/** Groups evidence by key into one finding per key (the first item of a key sets severity and title). */
export function grouped(
  phase: Phase, rule: string, items: { key: string; severity: Severity; title: string; ev: EvidenceRef }[],
): Finding[] {
  const out = new Map<string, Finding>();
  for (const it of items) {
    let f = out.get(it.key);
    if (!f) {
      f = { rule, severity: it.severity, phase, title: it.title, evidence: [] };
      out.set(it.key, f);
    }
    if (f.evidence.length < MAX_EVIDENCE) f.evidence.push(it.ev);
  }
  return [...out.values()];
}

/** `path` is `dir` or below it. */
export const under = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
/** The last component of a path. */
export const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** Every name of the home: the home, its aliases and `/root`, without trailing slashes or repeats. */
export function homesOf(ctx: RuleContext): string[] {
  const all = [ctx.home, ...(ctx.homeAliases ?? []), '/root'].map((h) => (h.length > 1 ? h.replace(/\/+$/, '') : h));
  return [...new Set(all.filter((h) => h.startsWith('/')))];
}

/** The path relative to the home (`.ssh/id_rsa`) when it is under any name of the home, else null. */
export function homeRelative(path: string, ctx: RuleContext): string | null {
  for (const h of homesOf(ctx)) {
    if (path === h) return '';
    if (path.startsWith(`${h}/`)) return path.slice(h.length + 1);
  }
  return null;
}

/** One human line of a network event. */
export const fmtNet = (e: Extract<TraceEvent, { kind: 'net' }>): string =>
  `${e.op} ${e.family === 'inet6' ? `[${e.address}]` : e.address}${e.port !== undefined ? `:${e.port}` : ''}${e.protocol ? `/${e.protocol}` : ''}${e.ok ? '' : ` (${e.errno ?? 'failed'})`}`;

/** File ops that change the file system. */
export const WRITE_OPS = new Set(['write', 'create', 'delete', 'rename', 'chmod', 'mkdir']);

/** `a` or `an`. */
export const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');
