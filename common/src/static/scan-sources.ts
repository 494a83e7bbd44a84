/**
 * The static rules over a distribution's decoded text: prepares each file, derives the
 * distribution's name, version and top-level modules, runs every rule and groups the hits into
 * findings (one per rule and severity, phase `static`, at most 20 cited lines each).
 */
import { SEVERITY_ORDER, type Finding, type Severity, type SourceRef } from '../findings/finding.js';
import type { RuleHit, ScanContext, StaticRule } from './static-rule.js';
import { sourceFile, type SourceFile } from './source-file.js';
import { STATIC_RULES } from './rules/index.js';

/** At most this many cited lines per finding. */
export const MAX_SOURCES = 20;
/** Excerpts are cut at this many characters. */
export const MAX_EXCERPT = 300;

/** A decoded file of the distribution: its path inside the archive and its text. */
export interface SourceText {
  path: string;
  text: string;
}

function metadataField(files: readonly SourceFile[], field: string): string | undefined {
  const meta = files.find((f) => f.role === 'metadata' && /(^|\/)(PKG-INFO|METADATA)$/.test(f.path) && f.path.split('/').length <= 2)
    ?? files.find((f) => f.role === 'metadata' && /(PKG-INFO|METADATA)$/.test(f.path));
  if (!meta) return undefined;
  const re = new RegExp(`^${field}:\\s*(.+?)\\s*$`);
  for (const l of meta.lines.slice(0, 60)) {
    const m = re.exec(l);
    if (m) return m[1]!;
  }
  return undefined;
}

function topLevelOf(files: readonly SourceFile[]): Set<string> {
  const out = new Set<string>();
  const sdist = files.some((f) => f.role === 'setup' || /^[^/]+\/PKG-INFO$/.test(f.path));
  for (const f of files) {
    let p = f.path.replace(/\\/g, '/').split('/');
    if (sdist && p.length > 1) p = p.slice(1);
    if (p[0] === 'src' && p.length > 1) p = p.slice(1);
    if (p.length === 2 && p[1] === '__init__.py') out.add(p[0]!);
    else if (p.length === 1 && p[0]!.endsWith('.py') && !/^setup/.test(p[0]!)) out.add(p[0]!.slice(0, -3));
  }
  return out;
}

const cap = (s: string): string => (s.length > MAX_EXCERPT ? `${s.slice(0, MAX_EXCERPT - 1)}…` : s);
const rank = (s: Severity): number => SEVERITY_ORDER.indexOf(s);

/** Runs one rule over one file, clamping each hit to the rule's declared severity; a throwing rule yields nothing. */
function runRule(rule: StaticRule, file: SourceFile, ctx: ScanContext): RuleHit[] {
  try {
    return rule.run(file, ctx).map((h) => (rank(h.severity) > rank(rule.severity) ? { ...h, severity: rule.severity } : h));
  } catch {
    return [];
  }
}

/** The static findings of a distribution's decoded files (pure; `distName` overrides the metadata's Name). */
export function scanSources(texts: SourceText[], opts: { distName?: string; rules?: readonly StaticRule[] } = {}): Finding[] {
  const files = texts.map((t) => sourceFile(t.path, t.text));
  const ctx: ScanContext = { files, distName: opts.distName ?? metadataField(files, 'Name'), version: metadataField(files, 'Version'), topLevel: topLevelOf(files) };
  const groups = new Map<string, { rule: StaticRule; severity: Severity; whats: Set<string>; files: Set<string>; sources: SourceRef[]; count: number }>();
  for (const rule of opts.rules ?? STATIC_RULES) {
    for (const file of files) {
      for (const h of runRule(rule, file, ctx)) {
        if (h.severity === 'info') continue;
        const key = `${rule.id}\0${h.severity}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { rule, severity: h.severity, whats: new Set(), files: new Set(), sources: [], count: 0 }));
        g.count++;
        g.files.add(file.path);
        if (h.what && g.whats.size < 3) g.whats.add(h.what);
        if (g.sources.length < MAX_SOURCES) g.sources.push({ file: file.path, line: h.line + 1, excerpt: cap(h.excerpt ?? (file.lines[h.line]! ?? '').trim()) });
      }
    }
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const where = g.files.size === 1 ? [...g.files][0] : `${g.files.size} files`;
    const what = [...g.whats].join('; ') || g.rule.description;
    out.push({ rule: g.rule.id, severity: g.severity, phase: 'static', title: cap(`${what} (${g.count} line${g.count === 1 ? '' : 's'} in ${where})`), evidence: [], sources: g.sources });
  }
  return out.sort((a, b) => rank(b.severity) - rank(a.severity) || a.rule.localeCompare(b.rule));
}
