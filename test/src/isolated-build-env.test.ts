/**
 * No resolver in the guest for isolated builds, end to end in the real bubblewrap sandbox: the host
 * plans the build environment (the install plan's `build`: the build requirements resolved against the
 * wheelhouse with the guest's pip, offline) and the build task makes it without pip
 * (tasks/guest/pyti_build_env.py: a venv, PyPA installer, the hooks run by the venv's python under
 * strace). What the backend's get_requires_for_build_wheel adds comes from the plan when the host
 * planned it (`wheel` for setuptools), else from the image's pip, and build.json says so.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, backendExtraRequirements, BwrapBackend, checkInstallPlan, installPlanFromWheelhouse, sha256OfFile, type InstallPlan } from '@pyti/slave';
import { requireRootfs } from '@pyti/images';
import { renderHtml, validateDist, type AuditReport } from '@pyti/common';
import { makeWheelhouse } from './fixture-dists.js';
import { debianWheel } from './index-fixtures.js';
import { packRawSdist } from './raw-sdist.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-build-env-'));
});
afterAll(() => {
  if (process.env.PYTI_KEEP_TEST_OUTPUT) process.stderr.write(`test output kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
});

interface BuildJson {
  mode?: string;
  build_env?: { source?: string; installer?: string; installed?: { name: string; version: string }[]; hook_requires?: string[];
    hook_installed?: { name: string; version: string }[]; resolver_fallback?: { reason: string; requirements: string[] }; reason?: string };
}

async function audit(fixture: string, wheelhouse: string, run = fixture, installPlan?: InstallPlan): Promise<{ report: AuditReport; build: BuildJson; strace: string }> {
  mkdirSync(join(dir, fixture, 'dist'), { recursive: true });
  const out = join(dir, run, 'out');
  const { report } = await auditDistribution({
    distPath: packRawSdist(fixture, join(dir, fixture, 'dist')), wheelhouse, outDir: out, installPlan,
    backend: new BwrapBackend(), parallel: 2, bait: false, skip: ['test', 'coverage', 'lint', 'style'],
  });
  return {
    report, build: JSON.parse(readFileSync(join(out, 'raw/build/build.json'), 'utf8')) as BuildJson,
    strace: readFileSync(join(out, 'raw/build/build.strace'), 'utf8'),
  };
}

/** The argv of every exec in a trace (once each: a failed PATH lookup tries the same argv again). */
function execs(strace: string): string[] {
  return [...new Set([...strace.matchAll(/execve\("[^"]*", \[([^\]]*)\]/g)].map((m) => m[1]!))];
}
const PIP = /"-m", "(?:pip|build)"|\/pip[0-9.]*"|pip\/__main__/;
const statuses = (r: AuditReport): Record<string, string> => Object.fromEntries(r.tasks.map((t) => [t.id, t.status]));

describe('an isolated build\'s environment comes from the host\'s plan, installed without pip', () => {
  it('backend-custom: the backend wheel installed by installer into a build venv; no pip process in the build trace', async () => {
    const { report, build, strace } = await audit('backend-custom', makeWheelhouse(join(dir, 'wh-custom'), ['pyti-backend']));
    expect(statuses(report)).toMatchObject({ build: 'pass', install: 'pass', import: 'pass' });
    expect(report.build).toMatchObject({ mode: 'isolated', backend: 'pyti_backend', wheel: 'backend_custom-0.1-py3-none-any.whl' });
    expect(build.build_env).toEqual({ source: 'plan', installer: 'installer', installed: [{ name: 'pyti-backend', version: '0.1' }] });
    expect(report.build!.environment).toEqual({ installer: 'installer' });
    expect(renderHtml(report)).toContain('build environment from the host\'s plan (installer, no resolver)');
    const argvs = execs(strace);
    expect(argvs.filter((a) => PIP.test(a))).toEqual([]);
    // The hooks ran in the planned venv (a tmp build-env-*, the tooling's place), the package's build code traced.
    expect(argvs).toEqual(expect.arrayContaining([expect.stringMatching(/^"\/tmp\/build-env-[a-z0-9_]+\/bin\/python", "[^"]*\/pep517_inprocess\.py"/)]));
    expect(report.traces.build?.counts.filesByOwner?.package ?? 0).toBeGreaterThan(0);
  }, 300_000);

  it('setuptools asking for wheel from its hook: wheel is installed from the plan (the host planned it ahead), still no pip', async () => {
    const wh = join(dir, 'wh-setuptools');
    mkdirSync(wh);
    for (const p of ['setuptools', 'wheel']) cpSync(debianWheel(p), join(wh, debianWheel(p).split('/').pop()!));
    const { report, build, strace } = await audit('setuptools-asks-wheel', wh);
    expect(statuses(report)).toMatchObject({ build: 'pass', install: 'pass', import: 'pass' });
    expect(build.mode).toBe('isolated');
    expect(build.build_env).toMatchObject({ source: 'plan', installer: 'installer', installed: [{ name: 'setuptools', version: expect.any(String) }], hook_requires: ['wheel'] });
    expect(build.build_env?.hook_installed?.map((d) => d.name)).toEqual(['wheel']);
    expect(build.build_env?.resolver_fallback).toBeUndefined();
    expect(execs(strace).filter((a) => PIP.test(a))).toEqual([]);
  }, 300_000);

  it('a hook requirement the host did not plan: the image\'s pip installs it from the wheelhouse, and build.json says so', async () => {
    const { report, build, strace } = await audit('backend-asks-more', makeWheelhouse(join(dir, 'wh-asks'), ['pyti-backend-asks', 'pyti-backend', 'pyti-helper']));
    expect(statuses(report)).toMatchObject({ build: 'pass', install: 'pass' });
    expect(build.mode).toBe('isolated');
    expect(build.build_env?.installed?.map((d) => d.name).sort()).toEqual(['pyti-backend', 'pyti-backend-asks']);
    expect(build.build_env?.resolver_fallback).toEqual({ reason: expect.stringContaining('pyti-helper>=0.1'), requirements: ['pyti-helper>=0.1'] });
    expect(execs(strace).filter((a) => PIP.test(a))).toHaveLength(1);
    expect(report.build!.environment).toEqual({ installer: 'installer', resolverFallback: { reason: expect.stringContaining('did not plan'), requirements: ['pyti-helper>=0.1'] } });
    expect((report as AuditReport & { notes?: string[] }).notes).toEqual(expect.arrayContaining([expect.stringMatching(/^build: pip's resolver ran in the guest: .*pyti-helper>=0\.1/)]));
  }, 300_000);

  it('a hook requirement neither the plan nor the wheelhouse has: pip names it, and the build falls back to no isolation', async () => {
    const { build } = await audit('backend-asks-more', makeWheelhouse(join(dir, 'wh-asks-short'), ['pyti-backend-asks', 'pyti-backend']), 'asks-short');
    const bj = build as BuildJson & { isolated_build_unmet?: string[] };
    expect(bj.build_env?.resolver_fallback?.requirements).toEqual(['pyti-helper>=0.1']);
    expect(bj.isolated_build_unmet).toEqual([expect.stringContaining('pyti-helper')]);
    expect(bj.mode).toBe('no-isolation');
  }, 300_000);
});

describe('a build plan the guest cannot use', () => {
  it('a planned wheel whose sha256 differs: python -m build and its pip make the environment, and build.json and the report say why', async () => {
    const wh = makeWheelhouse(join(dir, 'wh-badhash'), ['pyti-backend']);
    const plan: InstallPlan = { source: 'wheelhouse', runtime: [], test: [], notes: [], build: { requires: ['pyti-backend'], wheels: [{ filename: 'pyti_backend-0.1-py3-none-any.whl', sha256: '0'.repeat(64) }] } };
    const { report, build, strace } = await audit('backend-custom', wh, 'badhash', plan);
    expect(report.build).toMatchObject({ mode: 'isolated', wheel: 'backend_custom-0.1-py3-none-any.whl' });
    expect(build.build_env).toEqual({ installer: 'pip', reason: expect.stringMatching(/pyti_backend-0\.1-py3-none-any\.whl in the wheelhouse has sha256 [0-9a-f]{64}, not 0{64}/) });
    expect(report.build!.environment).toMatchObject({ installer: 'pip' });
    expect((report as AuditReport & { notes?: string[] }).notes).toEqual(expect.arrayContaining([expect.stringMatching(/^build: pip made the isolated build environment in the guest: /)]));
    expect(execs(strace).filter((a) => PIP.test(a)).length).toBeGreaterThan(0);
  }, 300_000);
});

describe('the host\'s build plan', () => {
  it('resolves an sdist\'s build requirements against the wheelhouse, with wheel added for setuptools', async () => {
    const wh = join(dir, 'wh-plan');
    mkdirSync(wh);
    for (const p of ['setuptools', 'wheel']) cpSync(debianWheel(p), join(wh, debianWheel(p).split('/').pop()!));
    mkdirSync(join(dir, 'plan-dist'), { recursive: true });
    const dist = await validateDist(packRawSdist('setuptools-asks-wheel', join(dir, 'plan-dist')));
    const plan = await installPlanFromWheelhouse({ dist, rootfs: requireRootfs().path, wheelhouse: wh });
    const names = [debianWheel('setuptools'), debianWheel('wheel')].map((p) => p.split('/').pop()!).sort();
    expect(plan.build).toEqual({ requires: ['setuptools', 'wheel'], wheels: names.map((filename) => ({ filename, sha256: sha256OfFile(join(wh, filename)) })) });
  }, 300_000);

  it('plans wheel only for setuptools backends that do not require it', () => {
    expect(backendExtraRequirements(['setuptools>=61'], 'setuptools.build_meta')).toEqual(['wheel']);
    expect(backendExtraRequirements(['setuptools'], undefined)).toEqual(['wheel']);
    expect(backendExtraRequirements(['setuptools', 'Wheel>=0.36'], 'setuptools.build_meta:__legacy__')).toEqual([]);
    expect(backendExtraRequirements(['hatchling'], 'hatchling.build')).toEqual([]);
  });

  it('a malformed build part is refused (PYTI_INSTALL_PLAN_INVALID); a good one kept', () => {
    const base = { source: 'wheelhouse', runtime: [], test: [], notes: [] };
    const wheel = { filename: 'setuptools-66.1.1-py3-none-any.whl', sha256: 'b'.repeat(64) };
    expect(checkInstallPlan({ ...base, build: { requires: ['setuptools'], wheels: [wheel] } }).build).toEqual({ requires: ['setuptools'], wheels: [wheel] });
    for (const build of [{ requires: 'setuptools', wheels: [] }, { requires: [1], wheels: [] }, { requires: [], wheels: [{ filename: '../x.whl', sha256: 'b'.repeat(64) }] }]) {
      expect(() => checkInstallPlan({ ...base, build })).toThrow(expect.objectContaining({ code: 'PYTI_INSTALL_PLAN_INVALID' }));
    }
  });
});
