import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyProvidedData } from './provided-data-copy.js';

describe('copyProvidedData (what a host sandbox stage produced, into the job input)', () => {
  let dir: string;
  let from: string;
  let to: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-provided-copy-'));
    from = join(dir, 'host-data');
    to = join(dir, 'input', 'pyti-data');
    mkdirSync(join(from, 'source', 'pkg'), { recursive: true });
    mkdirSync(join(from, 'meta'));
    mkdirSync(join(from, 'wheel'));
    writeFileSync(join(from, 'source', 'pkg', '__init__.py'), 'A = 1\n');
    writeFileSync(join(from, 'source', 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(from, 'source', 'run.sh'), 0o4775);
    writeFileSync(join(from, 'source', 'secret'), 's');
    chmodSync(join(from, 'source', 'secret'), 0o600);
    symlinkSync('/etc/shadow', join(from, 'source', 'shadow'));
    symlinkSync('/etc', join(from, 'source', 'etc'));
    execFileSync('mkfifo', [join(from, 'source', 'fifo')]);
    writeFileSync(join(from, 'meta', 'inspect.json'), '{}');
    writeFileSync(join(from, 'wheel', 'not-asked.whl'), 'w');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('copies the keys asked for, regular files and directories only, readable by every task uid, never through a link', () => {
    const s = copyProvidedData(from, to, ['source', 'meta']);
    expect(readdirSync(to).sort()).toEqual(['meta', 'source']);
    expect(readdirSync(join(to, 'source')).sort()).toEqual(['pkg', 'run.sh', 'secret']);
    expect(s).toMatchObject({ skipped: 3, bytes: 6 + 10 + 1 + 2 });
    expect(readFileSync(join(to, 'source', 'pkg', '__init__.py'), 'utf8')).toBe('A = 1\n');
    expect(statSync(join(to, 'source', 'run.sh')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(to, 'source', 'secret')).mode & 0o7777).toBe(0o644);
    expect(statSync(join(to, 'source', 'pkg')).mode & 0o7777).toBe(0o755);
    expect(existsSync(join(to, 'source', 'shadow'))).toBe(false);
    for (const f of ['pkg/__init__.py', 'run.sh']) expect(lstatSync(join(to, 'source', f)).uid).toBe(process.getuid!());
  });

  it('refuses a missing key, a link in place of a key, and data past its bounds', () => {
    expect(() => copyProvidedData(from, to, ['venv'])).toThrow(expect.objectContaining({ code: 'PYTI_PROVIDED_DATA_INVALID' }));
    symlinkSync('/etc', join(from, 'etc'));
    expect(() => copyProvidedData(from, join(dir, 'x'), ['etc'])).toThrow(/did not leave data etc as a directory/);
    expect(() => copyProvidedData(from, join(dir, 'y'), ['source'], { maxEntries: 2, maxBytes: 1e9 })).toThrow(/more than 2 entries/);
    expect(() => copyProvidedData(from, join(dir, 'z'), ['source'], { maxEntries: 100, maxBytes: 3 })).toThrow(/larger than/);
    expect(() => copyProvidedData(from, join(dir, 'w'), ['../host-data'])).toThrow(/not of the form/);
  });
});
