/**
 * End to end, in the real bubblewrap sandbox: the audited release is installed into a venv of its own
 * and traced, whatever the guest image holds. The fixture `image-collision` is a self-written
 * package named `attrs` at version 22.2.0, the name and version of the image's attrs: with the image's
 * site packages visible, pip said "already satisfied" and neither its install nor its import ran
 * (the installer of the host's plan installs it all the same).
 * Its dependency's wheel is mode 0600 in the wheelhouse (as flit writes them).
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, type AuditOutcome } from '@pyti/slave';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

describe('the audited release is installed into its own venv, whatever the image holds', () => {
  let outcome: AuditOutcome;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isolate-e2e-collision-'));
    const wheels = makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']);
    for (const f of readdirSync(wheels)) chmodSync(join(wheels, f), 0o600);
    expect(readdirSync(wheels).map((f) => statSync(join(wheels, f)).mode & 0o777)).toEqual([0o600]);
    outcome = await auditDistribution({
      distPath: buildFixture('image-collision', 'sdist'), wheelhouse: wheels, outDir: join(dir, 'out'),
      backend: new BwrapBackend(), parallel: 2,
    });
  });
  afterAll(() => {
    if (process.env.PYTI_KEEP_TEST_OUTPUT) process.stderr.write(`test output kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('a release named and versioned like the image\'s attrs is installed, traced and imported from the venv', () => {
    const r = outcome.report;
    expect(r.distribution).toMatchObject({ name: 'attrs', version: '22.2.0' });
    expect(r.tasks.filter((t) => ['inspect', 'build', 'install', 'import', 'execute'].includes(t.id)).map((t) => [t.id, t.status]))
      .toEqual([['inspect', 'pass'], ['build', 'pass'], ['install', 'pass'], ['import', 'pass'], ['execute', 'pass']]);
    // Both installed, the 0600 dependency wheel included: nothing was "already satisfied".
    expect(r.install!.installed!.map((i) => `${i.name}==${i.version}`).sort()).toEqual(['attrs==22.2.0', 'pyti-helper==0.1']);
    const install = r.traces.install!;
    expect(install.files.some((f) => /\/site-packages\/attrs\/__init__\.py$/.test(f.path) && f.ops.includes('create'))).toBe(true);
    // PyTI's installer put them into the venv (no resolver in the guest): the image's python, with the venv's paths (--venv).
    expect(r.install!.installer).toBe('installer');
    expect(install.processes.some((p) => p.argv.some((a) => a.endsWith('/pyti_wheel_install.py'))
      && /\/venv$/.test(p.argv[p.argv.indexOf('--venv') + 1] ?? ''))).toBe(true);
    // The import imported the venv's copy: its module file and its marker, in the import trace.
    const attrs = r.imports!.find((m) => m.module === 'attrs')!;
    expect(attrs).toMatchObject({ ok: true });
    const imp = r.traces.import!;
    expect(imp.files.some((f) => /\/venv\/lib\/python3[.\d]*\/site-packages\/attrs\/(__pycache__\/)?__init__\.(py|cpython-\d+\.pyc)$/.test(f.path))).toBe(true);
    const raw = JSON.parse(readFileSync(join(outcome.outDir, 'raw/import/import.json'), 'utf8')) as { modules: { module: string; file: string }[] };
    expect(raw.modules.find((m) => m.module === 'attrs')!.file).toMatch(/\/venv\/lib\/python3[.\d]*\/site-packages\/attrs\/__init__\.py$/);
    expect(imp.files.some((f) => f.path.endsWith('/pyti-own-attrs-imported') && f.ops.includes('create'))).toBe(true);
  });

  it('no false alarm: the isolated install and import are clean', () => {
    const r = outcome.report;
    expect(r.verdict).toBe('clean');
    expect(r.findings.filter((f) => ['medium', 'high', 'critical'].includes(f.severity))).toEqual([]);
  });
});

describe('the import task imports what the package declares, and only its primary module decides', () => {
  let dir: string;
  const audit = async (fixture: string): Promise<AuditOutcome> => auditDistribution({
    distPath: buildFixture(fixture, 'sdist'), wheelhouse: makeWheelhouse(join(dir, fixture, 'wheels'), []), outDir: join(dir, fixture, 'out'),
    backend: new BwrapBackend(), parallel: 2, bait: false, skip: ['test', 'coverage', 'lint', 'style'],
  });
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'isolate-e2e-import-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shims and optional modules that raise ImportError by design are optional; a build helper is not imported', async () => {
    const { report: r } = await audit('import-shim');
    expect(r.result).toBe('pass');
    expect(r.tasks.find((t) => t.id === 'import')!.status).toBe('pass');
    const by = Object.fromEntries(r.imports!.map((m) => [m.module, m]));
    expect(Object.keys(by).sort()).toEqual(['_import_shim_speedups', 'import_shim', 'import_shim_compat', 'import_shim_numpy']);
    expect(by.import_shim).toMatchObject({ ok: true, primary: true });
    expect(by._import_shim_speedups).toMatchObject({ ok: false, optional: true, error: expect.stringContaining('ImportError: the C speedups') });
    expect(by.import_shim_compat).toMatchObject({ ok: false, optional: true });
    expect(by.import_shim_numpy).toMatchObject({ ok: false, optional: true, error: expect.stringContaining("No module named 'numpy'") });
  }, 300_000);

  it('a primary module that fails is import-fail, with the reason', async () => {
    const { report: r } = await audit('import-broken');
    expect(r.result).toBe('import-fail');
    expect(r.tasks.find((t) => t.id === 'import')!.reason).toMatch(/^primary module import_broken failed to import: RuntimeError: import_broken is broken/);
    expect(r.imports).toEqual([expect.objectContaining({ module: 'import_broken', ok: false, primary: true })]);
    expect(r.imports![0]!.optional).toBeUndefined();
  }, 300_000);
});
