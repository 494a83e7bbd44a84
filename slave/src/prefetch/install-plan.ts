/**
 * The install plan: the exact wheels the guest installs, decided on the host, so that no resolver runs
 * in the guest (pip's import alone costs seconds under emulation). Written into the job's input
 * directory as `pyti-install-plan.json` (INSTALL_PLAN_FILE) beside pyti-test-requirements.json, read by
 * the guest's install and test tasks (tasks/guest/pyti_install_plan.py, which checks its shape again
 * and every wheel's sha256 against the wheelhouse before installing anything).
 *
 * - `runtime`: the wheels besides the package's own that its install needs (prefetch's resolution of
 *   its requirements, or a resolution against a given wheelhouse: wheelhouse-plan.ts);
 * - `test`: the extra wheels of the test environment (the test requirements resolved with the runtime
 *   ones, less the runtime wheels); null when the host did not resolve them (the guest's pip then does);
 * - `build` (sdists): the wheels of the isolated build environment, the build requirements resolved on
 *   their own (build-plan.ts), with what the backend's get_requires_for_build_wheel is known to add;
 *   absent when not resolved (the build task's `python -m build` then lets pip make the environment).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { safeDistFilename } from '@pyti/common';

export { INSTALL_PLAN_FILE } from '@pyti/tasks';

/** One wheel of the plan: its file name in the job's wheelhouse and its sha256 (hex). */
export interface PlannedWheel {
  filename: string;
  sha256: string;
}

export interface InstallPlan {
  /** Whose resolution it is: prefetch's (from the index), or the host's against a given wheelhouse. */
  source: 'prefetch' | 'wheelhouse';
  runtime: PlannedWheel[];
  /** null: not resolved on the host; the test task's pip resolves from the wheelhouse. */
  test: PlannedWheel[] | null;
  /** Why a part is missing or empty (a resolution that failed), for the reader of the plan. */
  notes: string[];
  /** The isolated build environment's wheels (tasks/guest/pyti_build_env.py); absent: not planned. */
  build?: BuildPlan;
}

/** The build environment of an sdist, as the host resolved it. */
export interface BuildPlan {
  /** The requirements resolved: the build requirements and the backend's known additions (`wheel` for setuptools). */
  requires: string[];
  /** The wheels they resolved to (the guest installs the closure of the sdist's build requirements over them). */
  wheels: PlannedWheel[];
}

/** Most requirements in a build plan, and most characters in one (as sdist-requirements.ts accepts them). */
export const MAX_BUILD_REQUIREMENTS = 500;

/** Most wheels in one list of a plan. */
export const MAX_PLANNED_WHEELS = 2000;

const SHA256 = /^[0-9a-f]{64}$/;

function checkWheels(v: unknown, what: string): PlannedWheel[] {
  if (!Array.isArray(v) || v.length > MAX_PLANNED_WHEELS) throw new PytiError('PYTI_INSTALL_PLAN_INVALID', `install plan ${what}: not a list of at most ${MAX_PLANNED_WHEELS} wheels`);
  return v.map((w, i) => {
    const o = w as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || typeof o.filename !== 'string' || !o.filename.endsWith('.whl') || !safeDistFilename(o.filename)
      || typeof o.sha256 !== 'string' || !SHA256.test(o.sha256)) {
      throw new PytiError('PYTI_INSTALL_PLAN_INVALID', `install plan ${what}[${i}]: not {filename: a wheel's file name, sha256: 64 hex digits}`);
    }
    return { filename: o.filename, sha256: o.sha256 };
  });
}

function checkBuildPlan(v: unknown): BuildPlan | undefined {
  if (v === undefined || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || !Array.isArray(o.requires) || o.requires.length > MAX_BUILD_REQUIREMENTS
    || !o.requires.every((r) => typeof r === 'string' && r.length <= 500)) {
    throw new PytiError('PYTI_INSTALL_PLAN_INVALID', `install plan build: not {requires: at most ${MAX_BUILD_REQUIREMENTS} requirement strings, wheels}`);
  }
  return { requires: [...(o.requires as string[])], wheels: checkWheels(o.wheels, 'build.wheels') };
}

/** The plan `v` shape-checked (unknown keys dropped); throws PYTI_INSTALL_PLAN_INVALID. */
export function checkInstallPlan(v: unknown): InstallPlan {
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || (o.source !== 'prefetch' && o.source !== 'wheelhouse')) {
    throw new PytiError('PYTI_INSTALL_PLAN_INVALID', 'install plan: not an object with source prefetch or wheelhouse');
  }
  const notes = Array.isArray(o.notes) ? o.notes.filter((n): n is string => typeof n === 'string').slice(0, 50).map((n) => n.slice(0, 500)) : [];
  const build = checkBuildPlan(o.build);
  return {
    source: o.source, runtime: checkWheels(o.runtime, 'runtime'), test: o.test === null || o.test === undefined ? null : checkWheels(o.test, 'test'), notes,
    ...(build ? { build } : {}),
  };
}

/** The JSON text of a plan, checked first (what the host writes into the job's input directory). */
export function installPlanJson(plan: InstallPlan): string {
  return `${JSON.stringify(checkInstallPlan(plan), null, 1)}\n`;
}

/** sha256 (hex) of a file. */
export function sha256OfFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** PlannedWheels for files of `dir` by name (sorted, unique); a name that is not a safe wheel file name throws. */
export function plannedWheelsIn(dir: string, filenames: Iterable<string>): PlannedWheel[] {
  return [...new Set(filenames)].sort().map((filename) => {
    if (!filename.endsWith('.whl') || !safeDistFilename(filename)) throw new PytiError('PYTI_INSTALL_PLAN_INVALID', `not a wheel file name: ${JSON.stringify(filename.slice(0, 200))}`);
    return { filename, sha256: sha256OfFile(join(dir, filename)) };
  });
}

/** The plan with nothing to install besides the package (no wheelhouse): every dependency is then missing. */
export function emptyInstallPlan(note?: string): InstallPlan {
  return { source: 'wheelhouse', runtime: [], test: [], notes: note ? [note] : [] };
}
