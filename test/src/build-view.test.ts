/**
 * End to end, in the real bubblewrap sandbox with no build requirement in the wheelhouse (a build without isolation, with
 * the image's backend): a build whose requirements are setuptools and wheel sees only those of the
 * image's packages, as pip's isolated build environment would (build_wheel.py's build_view). The trace
 * then holds no reads of other distributions' metadata (setuptools reads every visible distribution's
 * entry points; under emulation each read is a traced system call), an undeclared import of a package
 * the image happens to have fails as `pip install` would, and a build needing a backend outside the view
 * still builds with the whole image.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend } from '@pyti/slave';
import { renderHtml, type AuditReport } from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';
import { packRawSdist } from './raw-sdist.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'build-view-'));
  makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']); // pyti-sample's dependency; no build requirement
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Audits a fixture: a raw sdist (raw-sdist.ts), or `built` with its own build (pyti-sample). */
async function audit(fixture: string, built = false): Promise<AuditReport> {
  mkdirSync(join(dir, fixture, 'dist'), { recursive: true });
  const { report } = await auditDistribution({
    distPath: built ? buildFixture(fixture, 'sdist') : packRawSdist(fixture, join(dir, fixture, 'dist')), wheelhouse: join(dir, 'wheels'), outDir: join(dir, fixture, 'out'),
    backend: new BwrapBackend(), parallel: 2, bait: false, skip: ['test', 'coverage', 'lint', 'style', 'execute'],
  });
  return report;
}

describe('the build view of a build without isolation', () => {
  it('a setuptools build sees setuptools and wheel only: no other distribution is read', async () => {
    const r = await audit('pyti-sample', true);
    expect(r.result).toBe('pass');
    expect(r.build).toMatchObject({ mode: 'no-isolation', view: { distributions: [expect.stringMatching(/^setuptools-[\d.]+\.(egg|dist)-info$/), expect.stringMatching(/^wheel-[\d.]+\.(egg|dist)-info$/)] } });
    expect(r.build!.view!.widened).toBeUndefined();
    const trace = readFileSync(join(dir, 'pyti-sample', 'out', 'raw', 'build', 'build.strace'), 'utf8');
    const entryPoints = [...new Set([...trace.matchAll(/"([^"]*)\/entry_points\.txt"/g)].map((m) => m[1]!.split('/').pop()!))];
    expect(entryPoints.length).toBeGreaterThan(0); // setuptools does read entry points: of the view's distributions
    expect(entryPoints.filter((d) => !/^(setuptools|wheel)-|^pyti_sample\.egg-info$/.test(d))).toEqual([]); // the view's and the package's own
    expect(trace).not.toMatch(/dist-packages\/isort/); // isort's distutils command is not loaded into the build
    expect(renderHtml(r)).toContain('the build saw only <code>setuptools-');
  });

  it("a setup.py importing what its build requirements do not name fails, as pip's isolated build would", async () => {
    const r = await audit('build-undeclared-import');
    expect(r.result).toMatch(/^build-fail/);
    const build = r.tasks.find((t) => t.id === 'build')!;
    expect(build.outputTail).toMatch(/ModuleNotFoundError: No module named 'six'/);
  });

  it('a backend outside the view (pdm-pep517, which imports packaging without declaring it) builds with the whole image', async () => {
    const r = await audit('backend-pdm');
    expect(r.result).toBe('pass');
    expect(r.build!.view).toBeUndefined();
  });
});
