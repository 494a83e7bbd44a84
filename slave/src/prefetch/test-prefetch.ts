/**
 * Resolving a distribution's test requirements (`test requirements`, the third prefetch group): the
 * declared ones (test-requirements.ts) plus `pytest` and `coverage`, resolved by the guest's pip
 * TOGETHER with the runtime requirements, so that the versions agree with what the install puts in
 * the environment.
 *
 * When pip cannot resolve the group, the culprits are found: a requirement pip's error names ("No
 * matching distribution found for X") is set aside at once; otherwise each requirement is tried alone
 * (with the runtime set) and those that fail are set aside; the rest is resolved again. At most
 * MAX_TEST_PIP_RUNS pip runs are made: when they run out, everything not yet resolved is unresolved
 * (with pip's message). pytest and coverage never count as unresolved: the guest's test task falls
 * back to the image's copies when the wheelhouse lacks them (the log says so).
 */
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

/** The projects pip says it found no distribution for, by normalized name, with pip's line. */
export function pipMissingNames(error: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of error.split('\n')) {
    const m = /(?:No matching distribution found for|Could not find a version that satisfies the requirement)\s+(\S+)/.exec(line);
    if (m && !out.has(nameOf(m[1]!))) out.set(nameOf(m[1]!), line.replace(/^ERROR:\s*/, '').trim().slice(0, 500));
  }
  return out;
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
  let cands = declared.requirements.map((requirement, i) => ({ requirement, source: declared.sources[i] ?? 'declared' }));
  for (const t of TEST_TOOLS) if (!cands.some((c) => nameOf(c.requirement) === t)) cands.push({ requirement: t, source: 'pyti' });
  const unresolved: TestRequirementsFile['unresolved'] = [];
  const setAside = (c: { requirement: string; source: string }, reason: string): void => {
    if (TEST_TOOLS.includes(nameOf(c.requirement))) log(`test requirements: ${c.requirement} cannot be resolved from the index; the test task uses the image's copy (${reason.split('\n')[0]})`);
    else unresolved.push({ requirement: c.requirement, reason });
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
    const named = pipMissingNames(r.error ?? '');
    const direct = cands.filter((c) => named.has(nameOf(c.requirement)));
    if (direct.length) {
      for (const c of direct) setAside(c, named.get(nameOf(c.requirement))!);
      cands = cands.filter((c) => !direct.includes(c));
      continue;
    }
    if (cands.length === 1) {
      setAside(cands[0]!, short(r.error));
      break;
    }
    // Each alone, keeping one run for the resolution of the rest.
    const bad = new Map<(typeof cands)[number], string>();
    let tried = 0;
    for (const c of cands) {
      if (runs >= MAX_TEST_PIP_RUNS - 1) break;
      tried++;
      const one = await attempt([c.requirement], false);
      if (!one.ok) bad.set(c, short(one.error));
    }
    if (!bad.size) {
      const why = tried === cands.length ? 'each resolves alone, but not all together' : `not resolved within ${MAX_TEST_PIP_RUNS} pip runs`;
      for (const c of cands) setAside(c, `${why}; pip said: ${short(r.error)}`);
      break;
    }
    for (const [c, why] of bad) setAside(c, why);
    cands = cands.filter((c) => !bad.has(c));
  }
  log(`test requirements: ${resolved.length} resolved${unresolved.length ? `, unresolved: ${unresolved.map((u) => u.requirement).join(', ')}` : ''} (${runs} pip runs)`);
  return { requirements: resolved.map((c) => c.requirement), unresolved, sources: resolved.map((c) => c.source) };
}
