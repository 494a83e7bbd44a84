/**
 * The install plan of an audit given a wheelhouse instead of prefetching (`pyti audit --wheelhouse DIR`,
 * the benches): the guest's own pip, run on the host in the guest sandbox without network exactly as
 * prefetch runs it, resolves the distribution's static requirements (ValidatedDist.requiresDist; for an
 * sdist without them, the static sources prefetch reads) against that wheelhouse only:
 * `pip install --dry-run --report --no-index --find-links WHEELHOUSE --only-binary=:all: --target …`
 * (`--target`: what the image has installed does not count, as in the guest's fresh venv; only binary:
 * no sdist of the wheelhouse is built on the host). The test environment is resolved the same way, the
 * test requirements (plus pytest and coverage where the wheelhouse has them) with the runtime ones, and
 * an sdist's isolated build environment on its own (buildPlanFromWheelhouse).
 *
 * A resolution that fails leaves that part to the guest: the runtime part empty (the guest then names
 * the missing dependencies, or lets pip resolve when the wheelhouse has them), the test part null (the
 * test task's pip resolves, relaxing pins, as before). The plan's notes say so.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ValidatedDist } from '@pyti/common';
import { runInGuest } from './guest-python.js';
import { plannedWheelsIn, type BuildPlan, type InstallPlan } from './install-plan.js';
import { backendExtraRequirements } from './build-plan.js';
import { pipError } from './pip-download.js';
import { screenRequirements } from './requirements.js';
import { sdistRequirements, type SdistRequirements } from './sdist-requirements.js';
import { normalizeRequirementName, type TestRequirementsFile } from './test-requirements.js';
import { TEST_TOOLS } from './test-prefetch.js';

const GUEST_WHEELHOUSE = '/wheelhouse';
const GUEST_OUT = '/input';

/** pip's command line (inside the guest sandbox) for a dry-run resolution against the wheelhouse. */
export function wheelhouseResolveArgv(requirements: string[]): string[] {
  return [
    'python3', '-I', '-m', 'pip', 'install', '--dry-run', '--quiet', '--no-input', '--disable-pip-version-check', '--no-cache-dir',
    '--only-binary=:all:', '--no-index', '--find-links', GUEST_WHEELHOUSE, '--target', '/tmp/pyti-target',
    '--report', `${GUEST_OUT}/report.json`, '--', ...requirements,
  ];
}

export interface WheelhouseResolution {
  ok: boolean;
  /** File names (in the wheelhouse) of the wheels pip would install. */
  filenames: string[];
  error?: string;
}

/** The wheel file names of pip's installation report whose file is directly in the wheelhouse. */
export function reportFilenames(report: unknown, present: ReadonlySet<string>): string[] {
  const install = (report as { install?: unknown })?.install;
  if (!Array.isArray(install)) return [];
  const out: string[] = [];
  for (const item of install.slice(0, 5000)) {
    const url = (item as { download_info?: { url?: unknown } })?.download_info?.url;
    if (typeof url !== 'string' || !url.startsWith(`file://${GUEST_WHEELHOUSE}/`)) continue;
    const name = decodeURIComponent(basename(url));
    if (present.has(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/** Resolves `requirements` (screened) against `wheelhouse` with the guest's pip, offline. */
export async function resolveInWheelhouse(o: { rootfs: string; wheelhouse: string; requirements: string[]; timeoutMs?: number; signal?: AbortSignal }): Promise<WheelhouseResolution> {
  if (!o.requirements.length) return { ok: true, filenames: [] };
  const out = mkdtempSync(join(tmpdir(), 'pyti-resolve-'));
  try {
    const r = await runInGuest(wheelhouseResolveArgv(o.requirements), {
      rootfs: o.rootfs, binds: [{ host: o.wheelhouse, guest: GUEST_WHEELHOUSE }, { host: out, guest: GUEST_OUT, rw: true }],
      env: { PIP_CONFIG_FILE: '/dev/null', PYTHONDONTWRITEBYTECODE: '1' }, timeoutMs: o.timeoutMs ?? 300_000, signal: o.signal,
    });
    if (r.code !== 0) return { ok: false, filenames: [], error: r.timedOut ? 'pip timed out' : pipError(r.stderr, r.stdout) || `pip exited with ${r.code ?? r.signal}` };
    let report: unknown;
    try {
      report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8').slice(0, 64 * 1024 * 1024));
    } catch (err) {
      return { ok: false, filenames: [], error: `pip's report is not readable: ${(err as Error).message}` };
    }
    return { ok: true, filenames: reportFilenames(report, new Set(readdirSync(o.wheelhouse))) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The build environment of an sdist against the wheelhouse (the plan's `build`): its build requirements
 * with the backend's known additions (build-plan.ts) resolved together; without the additions when
 * that fails. Undefined when the wheelhouse lacks a build requirement's project (the build then runs
 * without isolation), or, with a note, when the resolution fails (the guest's `python -m build` then resolves).
 */
export async function buildPlanFromWheelhouse(o: { rootfs: string; wheelhouse: string; sdist: SdistRequirements; signal?: AbortSignal }): Promise<{ build?: BuildPlan; note?: string }> {
  const requires = screenRequirements(o.sdist.build).accepted;
  if (!requires.length) return {};
  const have = new Set(readdirSync(o.wheelhouse).filter((f) => f.endsWith('.whl')).map((f) => normalizeRequirementName(f.split('-')[0]!)));
  const absent = requires.filter((r) => !have.has(normalizeRequirementName(r.trim().split(/[\s<>=!~;[(@]/, 1)[0] ?? '')));
  // Not an isolated build (build_wheel.py builds with the image's backend): nothing to plan, nothing to say.
  if (absent.length) return {};
  const extra = screenRequirements(backendExtraRequirements(requires, o.sdist.backend)).accepted;
  for (const reqs of extra.length ? [[...requires, ...extra], requires] : [requires]) {
    const r = await resolveInWheelhouse({ rootfs: o.rootfs, wheelhouse: o.wheelhouse, requirements: reqs, signal: o.signal });
    if (r.ok) return { build: { requires: reqs, wheels: plannedWheelsIn(o.wheelhouse, r.filenames) } };
    if (reqs === requires) return { note: `build requirements not resolved against the wheelhouse (the guest's pip resolves them): ${(r.error ?? '').split('\n')[0]!.slice(0, 400)}` };
  }
  return {};
}

/** The install plan of `dist` against a given wheelhouse (see the module comment). */
export async function installPlanFromWheelhouse(o: {
  dist: ValidatedDist; rootfs: string; wheelhouse: string; testRequirements?: TestRequirementsFile; signal?: AbortSignal; onLog?: (line: string) => void;
}): Promise<InstallPlan> {
  const log = o.onLog ?? (() => undefined);
  const notes: string[] = [];
  // An sdist's static sources: its build requirements, and its runtime ones when PKG-INFO lists none.
  const sdist = o.dist.kind === 'sdist' ? await sdistRequirements(o.dist.path, o.rootfs, o.signal) : undefined;
  const staticRuntime = o.dist.requiresDist.length || !sdist ? o.dist.requiresDist : sdist.runtime ?? [];
  const runtimeReqs = screenRequirements(staticRuntime).accepted;
  const runtime = await resolveInWheelhouse({ rootfs: o.rootfs, wheelhouse: o.wheelhouse, requirements: runtimeReqs, signal: o.signal });
  if (!runtime.ok) notes.push(`runtime requirements not resolved against the wheelhouse: ${(runtime.error ?? '').split('\n')[0]!.slice(0, 400)}`);
  const have = new Set(readdirSync(o.wheelhouse).filter((f) => f.endsWith('.whl')).map((f) => normalizeRequirementName(f.split('-')[0]!)));
  const declared = o.testRequirements && !o.testRequirements.unresolved.length ? o.testRequirements.requirements : [];
  const testReqs = screenRequirements([...declared, ...TEST_TOOLS.filter((t) => have.has(t))]).accepted;
  let test: InstallPlan['test'] = null;
  if (runtime.ok && testReqs.length) {
    const both = await resolveInWheelhouse({ rootfs: o.rootfs, wheelhouse: o.wheelhouse, requirements: [...runtimeReqs, ...testReqs], signal: o.signal });
    if (both.ok) test = plannedWheelsIn(o.wheelhouse, both.filenames.filter((f) => !runtime.filenames.includes(f)));
    else notes.push(`test requirements not resolved against the wheelhouse (the test task's pip resolves them): ${(both.error ?? '').split('\n')[0]!.slice(0, 400)}`);
  } else if (runtime.ok) test = [];
  const build = sdist ? await buildPlanFromWheelhouse({ rootfs: o.rootfs, wheelhouse: o.wheelhouse, sdist, signal: o.signal }) : {};
  if (build.note) notes.push(build.note);
  const plan: InstallPlan = { source: 'wheelhouse', runtime: plannedWheelsIn(o.wheelhouse, runtime.filenames), test, notes, ...(build.build ? { build: build.build } : {}) };
  log(`install plan from the wheelhouse: ${plan.runtime.length} runtime wheels, ${test === null ? 'test environment left to pip' : `${test.length} test wheels`}${build.build ? `, ${build.build.wheels.length} build wheels` : ''}${notes.length ? `; ${notes.join('; ')}` : ''}`);
  return plan;
}
