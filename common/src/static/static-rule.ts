/**
 * The shape of a static rule (GuardDog's way: one file per rule under `rules/`, each declaring its
 * id, description, severity and the real technique it models) and what the rules share.
 */
import type { RuleInfo, Severity } from '../findings/finding.js';
import type { SourceFile } from './source-file.js';

/** What the scanner knows about the whole distribution when a rule reads one file. */
export interface ScanContext {
  /** Every prepared file of the distribution (for rules that look across files). */
  files: readonly SourceFile[];
  /** The distribution's name from PKG-INFO/METADATA (or the archive's name), when known. */
  distName?: string;
  /** Its version, when known. */
  version?: string;
  /** Top-level import names the distribution ships (package dirs and top-level modules). */
  topLevel: ReadonlySet<string>;
}

/** One match of a rule: a 0-based line of the file, and the severity this match deserves. */
export interface RuleHit {
  /** 0-based line index in the file. */
  line: number;
  /** Not above the rule's declared severity (the scanner clamps it). */
  severity: Severity;
  /** What was seen, for the finding's title (e.g. `exec(base64.b64decode(…))`). */
  what?: string;
  /** The part of the line to quote; the whole line when absent. */
  excerpt?: string;
}

/** A static rule: its declaration and a pure function of one prepared file. */
export interface StaticRule extends RuleInfo {
  run(file: SourceFile, ctx: ScanContext): RuleHit[];
}

/** Every 0-based line index of `file.code` matching `re` (tested line by line). */
export function matchingLines(file: SourceFile, re: RegExp): number[] {
  const out: number[] = [];
  for (let i = 0; i < file.code.length; i++) if (re.test(file.code[i]!)) out.push(i);
  return out;
}

/** The first line index of `file.code` matching `re`, or -1. */
export function firstLine(file: SourceFile, re: RegExp): number {
  for (let i = 0; i < file.code.length; i++) if (re.test(file.code[i]!)) return i;
  return -1;
}

/** A short excerpt of `line` around `re`'s first match (whole line when short). */
export function around(line: string, re: RegExp, width = 240): string {
  if (line.length <= width) return line.trim();
  const m = re.exec(line);
  const at = m ? m.index : 0;
  const start = Math.max(0, at - 40);
  return `${start > 0 ? '…' : ''}${line.slice(start, start + width)}…`;
}

/** Whether the file is read at install or import time (setup script, package init, `.pth`). */
export const runsEarly = (f: SourceFile): boolean => f.role === 'setup' || f.role === 'init' || f.role === 'pth';
