/**
 * End to end: the test task runs each fixture's own suite the way its maintainers would (its pytest
 * config, its layout, the whole sdist), in the real bubblewrap sandbox with the real guest image:
 * in-package tests named by python_files and testpaths, a src/ layout, a data file at the sdist root,
 * a flaky test, a package without tests, a test extra missing from the wheelhouse, the perf task.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditReport } from '@pyti/common';
import { auditFixture, cleanupFixtureAudits } from './fixture-audit.js';

const task = (r: AuditReport, id: string) => r.tasks.find((t) => t.id === id)!;
const outcomes = (r: AuditReport): Record<string, string> => Object.fromEntries(r.tests!.cases.map((c) => [c.id, c.outcome]));

describe('the test task runs the project\'s own suite', () => {
  afterAll(cleanupFixtureAudits);

  it('in-package tests named by the config (python_files, testpaths), a root conftest and a data file at the sdist root', async () => {
    const { report: r, exitCode, outDir } = await auditFixture('inpkg-tests');
    expect(r).toMatchObject({ result: 'pass', verdict: 'clean' });
    expect(exitCode).toBe(0);
    // pytest's own node ids, parameters decoded exactly; test_not_collected.py is not a check_*.py module.
    expect(outcomes(r)).toEqual({
      'inpkg_tests/tests/check_core.py::test_words': 'passed',
      'inpkg_tests/tests/check_core.py::test_reads_root_data_file': 'passed',
      'inpkg_tests/tests/check_core.py::test_count[a-1]': 'passed',
      "inpkg_tests/tests/check_core.py::test_count[a <b> & 'c'-4]": 'passed',
    });
    expect(r.tests).toMatchObject({ status: 'ran', total: 4, passed: 4, failed: 0, flaky: [], source: 'test-outcomes.jsonl' });
    expect(r.tests!.run).toMatchObject({ config: 'setup.cfg', discovery: 'testpaths', args: null });
    const pj = JSON.parse(readFileSync(join(outDir, 'raw/test/pytest.json'), 'utf8')) as Record<string, unknown>;
    expect(pj.status).toBe('ran');
  });

  it('doctest options in addopts: pytest runs on the root and collects the modules\' doctests too', async () => {
    const { report: r } = await auditFixture('doctest-pkg');
    expect(r.result).toBe('pass');
    expect(outcomes(r)).toEqual({ 'doctest_pkg/__init__.py::doctest_pkg.add': 'passed', 'tests/test_add.py::test_add': 'passed' });
    expect(r.tests!.run).toMatchObject({ config: 'setup.cfg', discovery: 'root', args: [] });
  });

  it('a src/ layout is tested as installed, with its pyproject config (from an sdist only its owner can read, as hatchling writes them)', async () => {
    const { report: r } = await auditFixture('src-layout', { mode: 0o600 });
    expect(r.result).toBe('pass');
    expect(outcomes(r)).toEqual({ 'tests/test_double.py::test_installed_copy_is_tested': 'passed', 'tests/test_double.py::test_double': 'passed' });
    expect(r.tests!.run).toMatchObject({ config: 'pyproject.toml', discovery: 'root', args: [] });
    expect(r.coverage!.percent).toBe(100);
  });

  it('a flat layout whose tests import the tree\'s copy: the installed extension is copied in (an in-place build)', async () => {
    const { report: r, outDir } = await auditFixture('cext-flat-tests');
    expect(r.result).toBe('pass');
    expect(outcomes(r)).toEqual({ 'tests/test_speed.py::test_tree_copy_imports_with_the_built_extension': 'passed' });
    const pj = JSON.parse(readFileSync(join(outDir, 'raw/test/pytest.json'), 'utf8')) as { inplace_extensions: string[] };
    expect(pj.inplace_extensions).toEqual([expect.stringMatching(/^cext_flat\/_speed\.cpython-\d+-x86_64-linux-gnu\.so$/)]);
    expect(r.coverage!.files.map((f) => f.path)).toEqual(['cext_flat/__init__.py']);
  });

  it('a test that fails in the run and passes alone is flaky, not a failure; a real failure stays one', async () => {
    const { report: r } = await auditFixture('flaky-tests');
    expect(r.result).toBe('test-fail');
    expect(outcomes(r)).toEqual({
      'tests/test_flaky.py::test_fails_first_time_only': 'flaky',
      'tests/test_flaky.py::test_always_fails': 'failed',
      'tests/test_flaky.py::test_passes': 'passed',
    });
    expect(r.tests).toMatchObject({ total: 3, passed: 1, failed: 1, flaky: ['tests/test_flaky.py::test_fails_first_time_only'] });
    const fail = r.tests!.cases.find((c) => c.name === 'test_always_fails')!;
    expect(fail.traceback).toContain('assert (1 + 1) == 3');
  });

  it('a distribution without tests is no-tests (exit code 0), with a tests key saying so', async () => {
    const { report: r, exitCode } = await auditFixture('no-tests-pkg');
    expect(r).toMatchObject({ result: 'no-tests', verdict: 'clean' });
    expect(exitCode).toBe(0);
    expect(r.tests).toMatchObject({ status: 'no tests', total: 0 });
    expect(task(r, 'test').status).toBe('pass');
    expect(task(r, 'coverage').status).toBe('pass'); // no data is a note, not a failure
  });

  it('a test extra missing from the wheelhouse: test-fail:deps naming it, the tests not run', async () => {
    const { report: r, exitCode } = await auditFixture('needs-test-extra');
    expect(r.result).toBe('test-fail:deps');
    expect(exitCode).toBe(1);
    expect(r.tests).toMatchObject({ status: 'not run', total: 0 });
    expect(r.tests!.missingRequirements!.join(' ')).toContain('pyti-test-only-dep');
    expect(task(r, 'test').reason).toContain('pyti-test-only-dep');
  });

  it('tests that import a library nobody installed stop at collection: test-fail:deps naming the module', async () => {
    const { report: r } = await auditFixture('undeclared-test-dep');
    expect(r.result).toBe('test-fail:deps');
    expect(r.tests).toMatchObject({ status: 'not run', missingRequirements: ['pyti_undeclared_lib'] });
  });

  it('a conftest.py importing a library nobody installed (pytest exit 4): test-fail:deps naming it', async () => {
    const { report: r } = await auditFixture('conftest-needs-lib');
    expect(r.result).toBe('test-fail:deps');
    expect(r.tests).toMatchObject({ status: 'not run', missingRequirements: ['pyti_conftest_lib'] });
  });

  it('a test extra in the wheelhouse is installed into the test environment (not the audited venv)', async () => {
    const { report: r } = await auditFixture('uses-test-extra', { wheelhouse: ['pyti-helper'] });
    expect(r.result).toBe('pass');
    expect(outcomes(r)).toEqual({ 'tests/test_with_helper.py::test_helper_from_the_test_environment': 'passed' });
    expect(r.tests!.run!.installed).toEqual(['pyti-helper>=0.1']);
    expect(r.install!.installed!.map((i) => i.name)).toEqual(['uses-test-extra']);
    // The host planned pyti-helper for the test environment: the installer put it there, no pip resolved in the guest.
    expect(r.tests!.run!.installer).toBe('installer');
  });

  it('a pinned test requirement the wheelhouse has only at another version is relaxed, reported, and the tests run', async () => {
    const { report: r } = await auditFixture('pinned-test-reqs', { wheelhouse: ['pyti-helper'] });
    expect(r.result).toBe('pass');
    expect(outcomes(r)).toEqual({ 'tests/test_pinned.py::test_shout': 'passed', 'tests/test_pinned.py::test_helper_installed_by_name': 'passed' });
    expect(r.tests!.run!.relaxed).toEqual([{ requirement: 'pyti-helper==0.0.9', installed: '0.1' }]);
    expect(r.tests!.missingRequirements).toBeUndefined();
    // The host's resolution against the wheelhouse failed on the pin: the guest's pip relaxed it, and the report says pip resolved.
    expect(r.tests!.run!.installer).toBe('pip');
    expect((r as typeof r & { notes?: string[] }).notes?.join('\n')).toMatch(/test: pip's resolver ran in the guest: test requirements not resolved against the wheelhouse/);
  });

  it('a run that meets a full disk is the sandbox\'s failure: error:sandbox, retried, not test-fail', async () => {
    const { report: r, exitCode } = await auditFixture('enospc-tests');
    expect(r.result).toBe('error:sandbox');
    expect(r.infraError!.message).toContain('ENOSPC');
    expect(r.retried).toHaveLength(1);
    expect(exitCode).toBe(2);
    expect(r.tests).toMatchObject({ status: 'not run', reason: expect.stringContaining('out of disk space') });
  });

  it('the perf task times the slowest passed tests five times', async () => {
    const { report: r } = await auditFixture('src-layout', { perf: true });
    expect(task(r, 'perf').status).toBe('pass');
    expect(r.perf!.map((p) => p.test).sort()).toEqual(['tests/test_double.py::test_double', 'tests/test_double.py::test_installed_copy_is_tested']);
    for (const p of r.perf!) {
      expect(p.runs).toBe(5);
      expect(p.minMs!).toBeLessThanOrEqual(p.medianMs!);
      expect(p.medianMs!).toBeLessThanOrEqual(p.maxMs!);
    }
  });
});
