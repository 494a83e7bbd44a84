/**
 * The install plan (no resolver in the guest): its shape, the host's resolution against a given
 * wheelhouse with the guest's pip (offline, in the guest sandbox), and the guest's install task checking
 * a plan before it installs anything (the real tasks/guest scripts with the image's Python, in bwrap).
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { tasksDir } from '@pyti/tasks';
import { checkInstallPlan, installPlanFromWheelhouse, installPlanJson, reportFilenames, sha256OfFile, type InstallPlan } from '@pyti/slave';
import { validateDist } from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

jest.setTimeout(300_000);

let dir: string;
let rootfs: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-install-plan-'));
  rootfs = requireRootfs().path;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHA = 'a'.repeat(64);

describe('the install plan file', () => {
  it('keeps a well-formed plan and drops unknown keys', () => {
    const plan = { source: 'prefetch', runtime: [{ filename: 'six-1.16.0-py2.py3-none-any.whl', sha256: SHA, extra: 1 }], test: null, notes: ['n'], more: true };
    expect(checkInstallPlan(plan)).toEqual({ source: 'prefetch', runtime: [{ filename: 'six-1.16.0-py2.py3-none-any.whl', sha256: SHA }], test: null, notes: ['n'] });
    expect(JSON.parse(installPlanJson(checkInstallPlan(plan)))).toEqual(checkInstallPlan(plan));
  });

  it.each([
    ['no source', { runtime: [], test: [] }],
    ['a path, not a file name', { source: 'prefetch', runtime: [{ filename: '../evil.whl', sha256: SHA }], test: [] }],
    ['not a wheel', { source: 'prefetch', runtime: [{ filename: 'evil-1.0.tar.gz', sha256: SHA }], test: [] }],
    ['a short hash', { source: 'wheelhouse', runtime: [{ filename: 'six-1.0-py3-none-any.whl', sha256: 'abc' }], test: [] }],
    ['test not a list', { source: 'wheelhouse', runtime: [], test: 'all' }],
  ])('refuses a plan with %s (PYTI_INSTALL_PLAN_INVALID)', (_what, plan) => {
    expect(() => checkInstallPlan(plan)).toThrow(expect.objectContaining({ code: 'PYTI_INSTALL_PLAN_INVALID' }));
  });

  it('takes from pip\'s report only wheels directly in the wheelhouse', () => {
    const report = { install: [
      { download_info: { url: 'file:///wheelhouse/a-1.0-py3-none-any.whl' } },
      { download_info: { url: 'file:///etc/b-1.0-py3-none-any.whl' } },
      { download_info: { url: 'https://example.invalid/c-1.0-py3-none-any.whl' } },
      { download_info: { url: 'file:///wheelhouse/d-1.0-py3-none-any.whl' } },
    ] };
    expect(reportFilenames(report, new Set(['a-1.0-py3-none-any.whl', 'b-1.0-py3-none-any.whl']))).toEqual(['a-1.0-py3-none-any.whl']);
    expect(reportFilenames({ install: 'x' }, new Set())).toEqual([]);
  });
});

describe('the host resolves against a given wheelhouse with the guest\'s pip', () => {
  it('plans pyti-sample\'s dependency with its sha256; build requirements and unrelated wheels stay out', async () => {
    const wh = makeWheelhouse(join(dir, 'wh-sample'), ['pyti-helper', 'pyti-backend']);
    const dist = await validateDist(buildFixture('pyti-sample', 'sdist'));
    const plan = await installPlanFromWheelhouse({ dist, rootfs, wheelhouse: wh });
    expect(plan).toEqual({ source: 'wheelhouse', runtime: [{ filename: 'pyti_helper-0.1-py3-none-any.whl', sha256: sha256OfFile(join(wh, 'pyti_helper-0.1-py3-none-any.whl')) }], test: [], notes: [] });
  });

  it('a dependency the wheelhouse lacks: nothing planned, and the plan says why', async () => {
    const wh = makeWheelhouse(join(dir, 'wh-empty'), []);
    const dist = await validateDist(buildFixture('needs-missing-dep', 'sdist'));
    const plan = await installPlanFromWheelhouse({ dist, rootfs, wheelhouse: wh });
    expect(plan.runtime).toEqual([]);
    expect(plan.notes.join('\n')).toMatch(/runtime requirements not resolved against the wheelhouse: .*pyti-not-in-wheelhouse/);
  });

  it('plans the test environment\'s extra wheels beyond the runtime ones', async () => {
    const wh = makeWheelhouse(join(dir, 'wh-tests'), ['pyti-helper']);
    const dist = await validateDist(buildFixture('dynamic-deps', 'sdist'));
    const plan = await installPlanFromWheelhouse({ dist, rootfs, wheelhouse: wh, testRequirements: { requirements: ['pyti-helper'], unresolved: [], sources: ['extra:test'] } });
    expect(plan.runtime).toEqual([]);
    expect(plan.test?.map((w) => w.filename)).toEqual(['pyti_helper-0.1-py3-none-any.whl']);
  });
});

/** Runs tasks/guest/install_wheel.py as the install task does, with the image's Python in bwrap. */
function guestInstall(name: string, plan: InstallPlan | string | null, wheelhouse: string[]): { code: number | null; out: string; result: Record<string, unknown>; work: string } {
  const work = mkdtempSync(join(dir, `guest-${name}-`));
  chmodSync(work, 0o755);
  for (const d of ['wheel', 'raw', 'input']) mkdirSync(join(work, d));
  const wheel = buildFixture(name, 'wheel');
  copyFileSync(wheel, join(work, 'wheel', basename(wheel)));
  makeWheelhouse(join(work, 'wheelhouse'), wheelhouse);
  if (plan !== null) writeFileSync(join(work, 'input', 'plan.json'), typeof plan === 'string' ? plan : installPlanJson(plan));
  const r = spawnSync('bwrap', [
    '--unshare-all', '--die-with-parent', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
    '--ro-bind', tasksDir(), '/opt/pyti/tasks', '--bind', work, '/work', '--ro-bind', join(work, 'wheelhouse'), '/wheelhouse',
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'PYTI_TASK', 'install', '--',
    'python3', '/opt/pyti/tasks/guest/install_wheel.py', '/work/wheel', '/work/venv', '/work/raw', '/wheelhouse', '/work/input/plan.json',
  ], { encoding: 'utf8', timeout: 120_000 });
  const result = existsSync(join(work, 'raw', 'install.json')) ? JSON.parse(readFileSync(join(work, 'raw', 'install.json'), 'utf8')) as Record<string, unknown> : {};
  return { code: r.status, out: `${r.stdout}\n${r.stderr}`, result, work };
}

describe('the guest installs exactly the plan, checked first', () => {
  const helper = (): { filename: string; sha256: string } => {
    const whl = buildFixture('pyti-helper', 'wheel');
    return { filename: basename(whl), sha256: sha256OfFile(whl) };
  };

  it('installs the planned dependency and the wheel with the installer, bytecode compiled, traced', () => {
    const g = guestInstall('pyti-sample', { source: 'wheelhouse', runtime: [helper()], test: [], notes: [] }, ['pyti-helper']);
    expect(g.code).toBe(0);
    expect(g.result).toMatchObject({ exit_code: 0, installer: 'installer', installed: [{ name: 'pyti-helper', version: '0.1' }, { name: 'pyti-sample', version: '1.0' }] });
    const site = join(g.work, 'venv', 'lib', readdirSync(join(g.work, 'venv', 'lib'))[0]!, 'site-packages');
    expect(readdirSync(join(site, 'pyti_sample', '__pycache__')).some((f) => f.endsWith('.pyc'))).toBe(true);
    expect(readFileSync(join(site, 'pyti_sample-1.0.dist-info', 'INSTALLER'), 'utf8')).toBe('pyti\n');
    expect(existsSync(join(site, 'pyti_sample-1.0.dist-info', 'REQUESTED'))).toBe(true);
    expect(existsSync(join(site, 'pyti_helper-0.1.dist-info', 'REQUESTED'))).toBe(false);
    const trace = readFileSync(join(g.work, 'raw', 'install.strace'), 'utf8');
    expect(trace).toMatch(/pyti_wheel_install\.py/);
    expect(trace).toMatch(/site-packages\/pyti_sample\/__init__\.py/);
  });

  it('a planned wheel whose sha256 is not the host\'s is an error, and nothing is installed', () => {
    const g = guestInstall('pyti-sample', { source: 'wheelhouse', runtime: [{ ...helper(), sha256: SHA }], test: [], notes: [] }, ['pyti-helper']);
    expect(g.code).toBe(2);
    expect(String(g.result.error)).toMatch(/pyti_helper-0\.1-py3-none-any\.whl in the wheelhouse has sha256 [0-9a-f]{64}, not a{64} as the host resolved/);
    expect(existsSync(join(g.work, 'raw', 'install.strace'))).toBe(false);
  });

  it('a planned wheel the wheelhouse lacks, or a malformed plan, is an error', () => {
    expect(guestInstall('pyti-sample', { source: 'wheelhouse', runtime: [helper()], test: [], notes: [] }, []).result.error).toMatch(/not in the wheelhouse/);
    const bad = guestInstall('pyti-sample', JSON.stringify({ source: 'prefetch', runtime: [{ filename: '../../etc/passwd', sha256: SHA }] }), ['pyti-helper']);
    expect(bad.code).toBe(2);
    expect(String(bad.result.error)).toMatch(/not \{filename: a wheel's file name/);
  });

  it('a dependency the plan lacks and the wheelhouse lacks: exit 3 naming it', () => {
    const g = guestInstall('pyti-sample', { source: 'wheelhouse', runtime: [], test: [], notes: [] }, []);
    expect(g.code).toBe(3);
    expect(g.result).toMatchObject({ installer: 'installer', missing_dependencies: ['pyti-helper>=0.1'] });
  });
});

describe('the test environment gets the plan\'s test wheels, preferring what the venv has', () => {
  /** A venv with idx-leaf 1.0 installed, then pyti_testenv.prepare_requirements with a plan whose test part is idx-leaf 1.1. */
  function prepare(requirement: string): { info: Record<string, unknown>; versions: Record<string, string> } {
    const work = mkdtempSync(join(dir, 'testenv-'));
    const wh = makeWheelhouse(join(work, 'wheelhouse'), ['idx-leaf-1.0', 'idx-leaf-1.1']);
    const [old, newer] = ['idx_leaf-1.0-py3-none-any.whl', 'idx_leaf-1.1-py3-none-any.whl'];
    writeFileSync(join(work, 'plan.json'), installPlanJson({ source: 'prefetch', runtime: [], test: [{ filename: newer, sha256: sha256OfFile(join(wh, newer)) }], notes: [] }));
    const script = [
      'import json, subprocess, sys', 'sys.path.insert(0, "/opt/pyti/tasks/guest")', 'import pyti_common as pc, pyti_testenv as te',
      'subprocess.check_call([sys.executable, "-m", "venv", "--without-pip", "/work/v"])',
      `subprocess.check_call(["/work/v/bin/python", "/opt/pyti/tasks/guest/pyti_wheel_install.py", "/wheelhouse/${old}"])`,
      `info = te.prepare_requirements("/work/v", "/wheelhouse", [${JSON.stringify(requirement)}], pc.capture, "/work/plan.json")`,
      'print("RESULT " + json.dumps({"info": info, "versions": te.installed_versions("/work/v")}))',
    ].join('\n');
    const r = spawnSync('bwrap', [
      '--unshare-all', '--die-with-parent', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
      '--ro-bind', tasksDir(), '/opt/pyti/tasks', '--bind', work, '/work', '--ro-bind', wh, '/wheelhouse',
      '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--', 'python3', '-c', script,
    ], { encoding: 'utf8', timeout: 120_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`no result: ${r.stdout}\n${r.stderr}`);
    return JSON.parse(line.slice(7)) as { info: Record<string, unknown>; versions: Record<string, string> };
  }

  it('a requirement the installed version meets keeps it', () => {
    const { info, versions } = prepare('idx-leaf');
    expect(info).toMatchObject({ installer: 'installer', installed: ['idx-leaf'], installed_wheels: [] });
    expect(versions).toEqual({ 'idx-leaf': '1.0' });
  });

  it('a requirement only the planned version meets replaces the installed one', () => {
    const { info, versions } = prepare('idx-leaf>=1.1');
    expect(info).toMatchObject({ installer: 'installer', installed: ['idx-leaf>=1.1'], installed_wheels: ['idx_leaf-1.1-py3-none-any.whl'] });
    expect(versions).toEqual({ 'idx-leaf': '1.1' });
  });

  it('a requirement neither meets, on a project the wheelhouse has: pip resolves it (relaxing the pin, as before), and says so', () => {
    const { info } = prepare('idx-leaf>=2');
    expect(info).toMatchObject({ installer: 'pip', resolver_fallback: { requirements: ['idx-leaf>=2'] }, relaxed: [{ requirement: 'idx-leaf>=2', relaxed_to: 'idx-leaf' }] });
  });
});

describe('the guest\'s minimal installer', () => {
  it('overwrites a file another wheel installed (backports.*\'s shared __init__.py), as pip does', () => {
    const work = mkdtempSync(join(dir, 'overlap-'));
    const script = [
      'import base64, hashlib, subprocess, sys, zipfile',
      'def wheel(name):',
      '    files = {"ns/__init__.py": b"# shared\\n", "ns/%s.py" % name: b"X = 1\\n",',
      '             "%s-1.0.dist-info/METADATA" % name: ("Metadata-Version: 2.1\\nName: %s\\nVersion: 1.0\\n" % name).encode(),',
      '             "%s-1.0.dist-info/WHEEL" % name: b"Wheel-Version: 1.0\\nGenerator: pyti-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}',
      '    record = "".join("%s,sha256=%s,%d\\n" % (p, base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode(), len(d)) for p, d in files.items())',
      '    files["%s-1.0.dist-info/RECORD" % name] = (record + "%s-1.0.dist-info/RECORD,,\\n" % name).encode()',
      '    path = "/work/%s-1.0-py3-none-any.whl" % name',
      '    with zipfile.ZipFile(path, "w") as z:',
      '        for p, d in files.items():',
      '            z.writestr(p, d)',
      '    return path',
      'subprocess.check_call([sys.executable, "-m", "venv", "--without-pip", "/work/v"])',
      'sys.exit(subprocess.call(["/work/v/bin/python", "/opt/pyti/tasks/guest/pyti_wheel_install.py", wheel("nsa"), wheel("nsb")]))',
    ].join('\n');
    const r = spawnSync('bwrap', [
      '--unshare-all', '--die-with-parent', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
      '--ro-bind', tasksDir(), '/opt/pyti/tasks', '--bind', work, '/work', '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--', 'python3', '-c', script,
    ], { encoding: 'utf8', timeout: 120_000 });
    expect({ code: r.status, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining('installed nsb-1.0-py3-none-any.whl') });
    const site = join(work, 'v', 'lib', readdirSync(join(work, 'v', 'lib'))[0]!, 'site-packages');
    expect(readdirSync(site).filter((n) => n.endsWith('.dist-info')).sort()).toEqual(['nsa-1.0.dist-info', 'nsb-1.0.dist-info']);
    expect(readdirSync(join(site, 'ns')).filter((n) => n.endsWith('.py')).sort()).toEqual(['__init__.py', 'nsa.py', 'nsb.py']);
  });
});
