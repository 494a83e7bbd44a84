/**
 * Resolving a distribution's test requirements (`test requirements`, the third prefetch group): the
 * declared ones (test-requirements.ts) plus `pytest` and `coverage`, resolved by the guest's pip
 * TOGETHER with the runtime requirements, so that the versions agree with what the install puts in
 * the environment.
 *
 * When pip cannot resolve the group, the culprits are found: requirements whose project the index does
 * not know at all (its Simple API page answers 404; asked once, after the first failure) and those
 * pip's error names ("No matching distribution found for X") are taken out at once; otherwise each
 * requirement is tried alone (with the runtime set) and those that fail are taken out. A culprit with a
 * version specifier is not set aside at first but RELAXED: tried again as its bare name (extras and
 * marker kept), since a pinned test requirement the index cannot give at that version (a lock file's
 * `packaging==22.0`) is met by the version it has, as a maintainer would do, and the tests still run;
 * what was relaxed is listed in `relaxed` and shown in the report. A culprit still failing in its
 * loose form, or without a specifier, is set aside (unresolved). The rest is resolved again. At most
 * MAX_TEST_PIP_RUNS pip runs are made: when they run out, everything not yet resolved is unresolved
 * (with pip's message). pytest and coverage never count as unresolved: the guest's test task falls
 * back to the image's copies when the wheelhouse lacks them (the log says so).
 */
import { PytiError } from '@pyti/vm-agent';
import { indexGet, projectSimpleUrl, SIMPLE_ACCEPT } from '@pyti/common';
import type { TestRequirementsFile } from './test-requirements.js';
import { normalizeRequirementName, type DeclaredTestRequirements } from './test-requirements.js';
import { pipDownload } from './pip-download.js';
import type { PrefetchOptions } from './prefetch.js';
import type { CachedWheel } from './wheel-cache.js';

/** The most pip runs spent on the test group of one job. */
export const MAX_TEST_PIP_RUNS = 8;

/** What the guest's test task always gets, when the index has it. */
export const TEST_TOOLS = Object.freeze(['pytest', 'coverage']);

const nameOf = (req: string): string => normalizeRequirementName(/^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(req)?.[1] ?? req);

/**
 * A PEP 508 requirement without its version specifier, extras and marker kept (`foo[x]==1.0; python_version
 * < "3.12"` → `foo[x]; python_version < "3.12"`); undefined when it has none or is a direct reference (`@ URL`).
 */
export function withoutVersion(req: string): string | undefined {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$/.exec(req);
  if (!m || !m[3] || m[3].includes('@')) return undefined;
  return `${m[1]}${m[2]?.replace(/\s+/g, '') ?? ''}${m[4] ? ` ${m[4].trim()}` : ''}`;
}

/** The projects pip says it found no distribution for, by normalized name, with pip's line. */
export function pipMissingNames(error: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of error.split('\n')) {
    const m = /(?:No matching distribution found for|Could not find a version that satisfies the requirement)\s+(\S+)/.exec(line);
    if (m && !out.has(nameOf(m[1]!))) out.set(nameOf(m[1]!), line.replace(/^ERROR:\s*/, '').trim().slice(0, 500));
  }
  return out;
}

/**
 * The projects among `names` (normalized) whose Simple API page the index answers with 404; any other
 * answer or failure counts as present (pip decides). At most 8 requests at a time, one attempt each.
 */
export async function projectsAbsentFromIndex(simpleUrl: string, names: string[], signal?: AbortSignal): Promise<Set<string>> {
  const absent = new Set<string>();
  const queue = [...new Set(names)];
  const worker = async (): Promise<void> => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      try {
        const res = await indexGet(projectSimpleUrl(simpleUrl, n), `project ${n}`, { attempts: 1, timeoutMs: 10_000, signal, headers: { accept: SIMPLE_ACCEPT } });
        await res.body?.cancel().catch(() => undefined);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (err instanceof PytiError && err.code === 'PYTI_INDEX_NOT_FOUND') absent.add(n);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  return absent;
}

const short = (error: string | undefined): string => (error ?? 'pip failed').split('\n').filter((l) => l.trim()).slice(0, 6).join('\n').slice(0, 1000);

/**
 * Resolves `declared` + pytest + coverage together with `base` (the runtime requirements), downloading
 * through the wheel cache; `keep` receives the wheels of the resolution that succeeded.
 */
export async function resolveTestRequirements(
  o: Omit<PrefetchOptions, 'dist'>, base: string[], declared: DeclaredTestRequirements, keep: (wheels: CachedWheel[]) => void,
): Promise<TestRequirementsFile> {
  const log = o.onLog ?? (() => undefined);
  type Candidate = { requirement: string; source: string; relaxedFrom?: string };
  let cands: Candidate[] = declared.requirements.map((requirement, i) => ({ requirement, source: declared.sources[i] ?? 'declared' }));
  for (const t of TEST_TOOLS) if (!cands.some((c) => nameOf(c.requirement) === t)) cands.push({ requirement: t, source: 'pyti' });
  const unresolved: TestRequirementsFile['unresolved'] = [];
  const setAside = (c: Candidate, reason: string): void => {
    const req = c.relaxedFrom ?? c.requirement;
    if (TEST_TOOLS.includes(nameOf(req))) log(`test requirements: ${req} cannot be resolved from the index; the test task uses the image's copy (${reason.split('\n')[0]})`);
    else unresolved.push({ requirement: req, reason });
  };
  /** Relaxes each culprit that has a version specifier (it stays); sets the others aside. Returns those set aside. */
  const relaxOrSetAside = (culprits: Map<Candidate, string>): Set<Candidate> => {
    const gone = new Set<Candidate>();
    for (const [c, why] of culprits) {
      const loose = c.relaxedFrom === undefined ? withoutVersion(c.requirement) : undefined;
      if (loose) {
        log(`test requirements: ${c.requirement} cannot be resolved at that version; trying ${loose} (${why.split('\n')[0]})`);
        c.relaxedFrom = c.requirement;
        c.requirement = loose;
      } else {
        setAside(c, why);
        gone.add(c);
      }
    }
    return gone;
  };
  let runs = 0;
  const attempt = async (reqs: string[], link: boolean): Promise<{ ok: boolean; error?: string }> => {
    runs++;
    const dir = o.cache.stage();
    try {
      const r = await pipDownload({ rootfs: o.rootfs, tags: o.tags, simpleUrl: o.simpleUrl, downloadDir: dir, requirements: [...base, ...reqs], timeoutMs: o.timeoutMs, signal: o.signal });
      const wheels = await o.cache.commit(dir, r.files);
      if (r.ok && link) keep(wheels);
      return { ok: r.ok, error: r.error };
    } finally {
      o.cache.unstage(dir);
    }
  };
  log(`resolving test requirements: ${cands.map((c) => c.requirement).join(', ')}`);
  let resolved: typeof cands = [];
  let askedIndex = false;
  while (cands.length) {
    const r = await attempt(cands.map((c) => c.requirement), true);
    if (r.ok) {
      resolved = cands;
      break;
    }
    if (runs >= MAX_TEST_PIP_RUNS) {
      for (const c of cands) setAside(c, `not resolved within ${MAX_TEST_PIP_RUNS} pip runs; pip said: ${short(r.error)}`);
      break;
    }
    if (!askedIndex) {
      askedIndex = true;
      const absent = await projectsAbsentFromIndex(o.simpleUrl, cands.map((c) => nameOf(c.requirement)), o.signal);
      const gone = cands.filter((c) => absent.has(nameOf(c.requirement)));
      if (gone.length) {
        for (const c of gone) setAside(c, `the index has no project ${nameOf(c.requirement)}`);
        cands = cands.filter((c) => !gone.includes(c));
        continue;
      }
    }
    const named = pipMissingNames(r.error ?? '');
    const direct = new Map(cands.filter((c) => named.has(nameOf(c.requirement))).map((c) => [c, named.get(nameOf(c.requirement))!]));
    if (direct.size) {
      const gone = relaxOrSetAside(direct);
      cands = cands.filter((c) => !gone.has(c));
      continue;
    }
    if (cands.length === 1) {
      if (relaxOrSetAside(new Map([[cands[0]!, short(r.error)]])).size) break;
      continue;
    }
    // Each alone, keeping one run for the resolution of the rest.
    const bad = new Map<Candidate, string>();
    let tried = 0;
    for (const c of cands) {
      if (runs >= MAX_TEST_PIP_RUNS - 1) break;
      tried++;
      const one = await attempt([c.requirement], false);
      if (!one.ok) bad.set(c, short(one.error));
    }
    if (!bad.size) {
      const why = tried === cands.length ? 'each resolves alone, but not all together' : `not resolved within ${MAX_TEST_PIP_RUNS} pip runs`;
      // Pins that conflict with each other or with the runtime set: the pinned ones are relaxed together, once.
      const pinned = tried === cands.length ? cands.filter((c) => c.relaxedFrom === undefined && withoutVersion(c.requirement)) : [];
      if (pinned.length) {
        relaxOrSetAside(new Map(pinned.map((c) => [c, why])));
        continue;
      }
      for (const c of cands) setAside(c, `${why}; pip said: ${short(r.error)}`);
      break;
    }
    const gone = relaxOrSetAside(bad);
    cands = cands.filter((c) => !gone.has(c));
  }
  const relaxed = resolved.filter((c) => c.relaxedFrom !== undefined).map((c) => ({ requirement: c.relaxedFrom!, relaxedTo: c.requirement }));
  log(`test requirements: ${resolved.length} resolved${relaxed.length ? ` (relaxed: ${relaxed.map((x) => `${x.requirement} → ${x.relaxedTo}`).join(', ')})` : ''}${unresolved.length ? `, unresolved: ${unresolved.map((u) => u.requirement).join(', ')}` : ''} (${runs} pip runs)`);
  return { requirements: resolved.map((c) => c.requirement), unresolved, sources: resolved.map((c) => c.source), ...(relaxed.length ? { relaxed } : {}) };
}
