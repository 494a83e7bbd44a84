/**
 * `diffAudits(a, b)`: what changed from audit report `a` (the older release, or the earlier audit)
 * to report `b`, in dependencies, processes, files written outside the install, network and DNS
 * targets, sinkhole traffic, findings, tests, coverage and lint. A pure function of the two stored
 * reports: no I/O, deterministic, every list capped (DIFF_LIST_CAP).
 *
 * Precondition: none on the shapes — stored reports come from slaves and older reports lack fields;
 * anything missing or malformed reads as empty. Everything in the result is data to be escaped.
 */
import type { AuditReport } from '@pyti/common';
import type { AuditDiff, Change, DiffFinding, DiffSide, InstalledPackage, PhaseItem, SetDiff, TestCounts, TestsDiff } from './audit-diff-types.js';
import { dnsItems, networkItems, normalizer, processItems, sinkholeItems, writtenFileItems } from './trace-items.js';

/** Most items kept in each list of a diff (the rest are counted in `omitted`). */
export const DIFF_LIST_CAP = 500;

const SEVERITY_RANK: Record<string, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const normName = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-');

/** Set difference by key, keeping the first item of each key, in the order given, capped. */
export function setDiff<T>(from: T[], to: T[], key: (t: T) => string, cap = DIFF_LIST_CAP): SetDiff<T> {
  const fromKeys = new Set(from.map(key));
  const toKeys = new Set(to.map(key));
  const uniq = (list: T[], other: Set<string>): T[] => {
    const seen = new Set<string>();
    return list.filter((t) => {
      const k = key(t);
      if (other.has(k) || seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  const added = uniq(to, fromKeys);
  const removed = uniq(from, toKeys);
  const out: SetDiff<T> = { added: added.slice(0, cap), removed: removed.slice(0, cap) };
  if (added.length > cap || removed.length > cap) out.omitted = { added: Math.max(0, added.length - cap), removed: Math.max(0, removed.length - cap) };
  return out;
}

function change<T>(from: T | null, to: T | null): Change<T> {
  return { from, to, changed: from !== to };
}

function side(r: AuditReport): DiffSide {
  const d = obj(r.distribution);
  return {
    project: str(d.name), version: str(d.version), filename: str(d.filename), verdict: str(r.verdict), result: str(r.result),
    score: num(r.score) ?? 0, maxSeverity: str(r.maxSeverity) || null,
  };
}

/** The installed set, the audited package itself left out. */
function installed(r: AuditReport): InstalledPackage[] {
  const self = normName(str(obj(r.distribution).name));
  return arr(obj(r.install).installed).map((x) => ({ name: str(obj(x).name), version: str(obj(x).version) }))
    .filter((p) => p.name && normName(p.name) !== self);
}

/**
 * A finding as comparable across releases: rule, phase and its evidence — trace summaries, or for
 * static findings the file inside the archive without its `name-version/` top directory, and the excerpt.
 * Line numbers and sequence numbers are left out (they move between releases).
 */
function diffFinding(f: unknown, norm: (s: string) => string): DiffFinding {
  const o = obj(f);
  const evidence = [
    ...arr(o.evidence).map((e) => norm(str(obj(e).summary))),
    ...arr(o.sources).map((s) => `${str(obj(s).file).replace(/^[^/]*\//, '')}: ${str(obj(s).excerpt).trim()}`),
  ].filter(Boolean);
  return { rule: str(o.rule), severity: str(o.severity), phase: str(o.phase), title: str(o.title), evidence: [...new Set(evidence)].sort().slice(0, 20) };
}

const findingKey = (f: DiffFinding): string => `${f.rule}\u0000${f.phase}\u0000${f.evidence.join('\u0001') || f.title}`;

function testCounts(r: AuditReport): TestCounts | null {
  const t = obj(r.tests);
  if (r.tests === undefined || r.tests === null) return null;
  return {
    status: str(t.status) || null, total: num(t.total) ?? 0, passed: num(t.passed) ?? 0, failed: num(t.failed) ?? 0,
    errors: num(t.errors) ?? 0, skipped: num(t.skipped) ?? 0,
  };
}

const FAILING = new Set(['failed', 'error']);

function testOutcomes(r: AuditReport): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of arr(obj(r.tests).cases)) {
    const id = str(obj(c).id) || str(obj(c).name);
    if (id) m.set(id, str(obj(c).outcome));
  }
  return m;
}

function diffTests(a: AuditReport, b: AuditReport): TestsDiff {
  const from = testOutcomes(a);
  const to = testOutcomes(b);
  const newFailures: string[] = [];
  const fixed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  let stillFailing = 0;
  for (const [id, outcome] of to) {
    const before = from.get(id);
    if (before === undefined) added.push(id);
    if (FAILING.has(outcome)) {
      if (before !== undefined && FAILING.has(before)) stillFailing++;
      else newFailures.push(id);
    } else if (before !== undefined && FAILING.has(before) && outcome === 'passed') fixed.push(id);
  }
  for (const id of from.keys()) if (!to.has(id)) removed.push(id);
  const cap = (l: string[]): string[] => l.slice(0, DIFF_LIST_CAP);
  const out: TestsDiff = {
    from: testCounts(a), to: testCounts(b), newFailures: cap(newFailures), fixed: cap(fixed), added: cap(added), removed: cap(removed), stillFailing,
  };
  if ([newFailures, fixed, added, removed].some((l) => l.length > DIFF_LIST_CAP)) {
    const over = (l: string[]): number => Math.max(0, l.length - DIFF_LIST_CAP);
    out.omitted = { newFailures: over(newFailures), fixed: over(fixed), added: over(added), removed: over(removed) };
  }
  return out;
}

function lintCounts(a: AuditReport, b: AuditReport): { type: string; from: number; to: number }[] {
  const ca = obj(obj(a.lint).counts);
  const cb = obj(obj(b.lint).counts);
  const types = [...new Set([...Object.keys(ca), ...Object.keys(cb)])].sort().slice(0, 50);
  return types.map((type) => ({ type, from: num(ca[type]) ?? 0, to: num(cb[type]) ?? 0 })).filter((c) => c.from !== c.to);
}

const phaseText = (i: PhaseItem): string => `${i.phase}\u0000${i.text}`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function highlights(d: Omit<AuditDiff, 'changed' | 'highlights'>): string[] {
  const out: string[] = [];
  const newFindings = [...d.findings.added].sort((x, y) => (SEVERITY_RANK[y.severity] ?? 0) - (SEVERITY_RANK[x.severity] ?? 0));
  for (const f of newFindings.filter((x) => (SEVERITY_RANK[x.severity] ?? 0) >= 2).slice(0, 10)) out.push(`new ${f.severity} finding [${f.rule}] ${f.title}`);
  const lowNew = newFindings.filter((x) => (SEVERITY_RANK[x.severity] ?? 0) < 2).length;
  if (lowNew) out.push(`${plural(lowNew, 'new low or info finding')}`);
  if (d.findings.removed.length) out.push(`${plural(d.findings.removed.length, 'finding')} gone`);
  if (d.verdict.changed) out.push(`verdict ${d.verdict.from ?? '?'} → ${d.verdict.to ?? '?'}`);
  if (d.result.changed) out.push(`result ${d.result.from ?? '?'} → ${d.result.to ?? '?'}`);
  for (const n of d.dns.added.slice(0, 5)) out.push(`new DNS lookup in ${n.phase}: ${n.text}`);
  for (const n of d.network.added.slice(0, 5)) out.push(`new network target in ${n.phase}: ${n.text}`);
  if (d.sinkhole?.added.length) out.push(`${plural(d.sinkhole.added.length, 'new sinkhole record')}`);
  for (const f of d.files.added.slice(0, 5)) out.push(`new write outside the install in ${f.phase}: ${f.text}`);
  if (d.processes.added.length) out.push(`${plural(d.processes.added.length, 'new command')} run`);
  const deps = d.dependencies;
  if (deps.installed.added.length || deps.declared.added.length) {
    out.push(`new dependencies: ${[...deps.declared.added, ...deps.installed.added.map((p) => `${p.name} ${p.version}`)].slice(0, 8).join(', ')}`);
  }
  if (deps.changed.length) out.push(`${plural(deps.changed.length, 'dependency', 'dependencies')} changed version`);
  if (d.tests.newFailures.length) out.push(`${plural(d.tests.newFailures.length, 'new test failure')}`);
  if (d.tests.fixed.length) out.push(`${plural(d.tests.fixed.length, 'test')} fixed`);
  if (d.coverage.changed && d.coverage.from !== null && d.coverage.to !== null) out.push(`coverage ${d.coverage.from}% → ${d.coverage.to}%`);
  return out;
}

/**
 * What changed from report `a` (older) to report `b` (newer). Pure; see the module comment.
 * `ids` names the audits (copied into `from.auditId` / `to.auditId`).
 */
export function diffAudits(a: AuditReport, b: AuditReport, ids: { from?: string; to?: string } = {}): AuditDiff {
  const na = normalizer(str(obj(a.distribution).version));
  const nb = normalizer(str(obj(b.distribution).version));
  const from = { ...side(a), ...(ids.from ? { auditId: ids.from } : {}) };
  const to = { ...side(b), ...(ids.to ? { auditId: ids.to } : {}) };
  const declared = (r: AuditReport): string[] => arr(obj(r.distribution).requiresDist).map(str).filter(Boolean);
  const ia = installed(a);
  const ib = installed(b);
  const versionsA = new Map(ia.map((p) => [normName(p.name), p.version]));
  const changedVersions = ib.filter((p) => versionsA.has(normName(p.name)) && versionsA.get(normName(p.name)) !== p.version)
    .map((p) => ({ name: p.name, from: versionsA.get(normName(p.name))!, to: p.version }));
  const sa = sinkholeItems(a);
  const sb = sinkholeItems(b);
  const body = {
    from, to,
    verdict: change(from.verdict || null, to.verdict || null),
    result: change(from.result || null, to.result || null),
    score: change(num(a.score), num(b.score)),
    dependencies: {
      declared: setDiff(declared(a), declared(b), (s) => s.replace(/\s+/g, '')),
      installed: setDiff(ia, ib, (p) => normName(p.name)),
      changed: changedVersions.slice(0, DIFF_LIST_CAP),
    },
    processes: setDiff(processItems(a, na), processItems(b, nb), phaseText),
    files: setDiff(writtenFileItems(a, na), writtenFileItems(b, nb), phaseText),
    network: setDiff(networkItems(a), networkItems(b), phaseText),
    dns: setDiff(dnsItems(a), dnsItems(b), phaseText),
    sinkhole: sa === null && sb === null ? null : setDiff(sa ?? [], sb ?? [], phaseText),
    findings: setDiff(arr(a.findings).map((f) => diffFinding(f, na)), arr(b.findings).map((f) => diffFinding(f, nb)), findingKey),
    tests: diffTests(a, b),
    coverage: change(num(obj(a.coverage).percent), num(obj(b.coverage).percent)),
    lint: {
      score: change(num(obj(a.lint).score), num(obj(b.lint).score)),
      counts: lintCounts(a, b),
      style: change(num(obj(a.style).total), num(obj(b.style).total)),
    },
  };
  const sets = [body.dependencies.declared, body.dependencies.installed, body.processes, body.files, body.network, body.dns, body.findings, ...(body.sinkhole ? [body.sinkhole] : [])];
  const changed = sets.some((s) => s.added.length > 0 || s.removed.length > 0) || body.dependencies.changed.length > 0
    || body.verdict.changed || body.result.changed || body.score.changed || body.coverage.changed || body.lint.score.changed || body.lint.style.changed
    || body.lint.counts.length > 0 || body.tests.newFailures.length > 0 || body.tests.fixed.length > 0 || body.tests.added.length > 0 || body.tests.removed.length > 0;
  return { ...body, changed, highlights: highlights(body) };
}
