import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { validateDist } from './validate-dist.js';

// Hostile archives are written by a Python script (tarfile/zipfile can express every trick).
const script = new URL('../../../test/fixtures/hostile/make_hostile_archives.py', import.meta.url).pathname;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-hostile-'));
  execFileSync('python3', [script, dir]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(name: string): Promise<PytiError> {
  try {
    await validateDist(join(dir, name));
  } catch (err) {
    expect(err).toBeInstanceOf(PytiError);
    return err as PytiError;
  }
  throw new Error(`${name} was accepted`);
}

describe('validateDist rejects bad input with a clear, coded error', () => {
  it.each([
    ['traversal-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_PATH', /climbs out with \.\./],
    ['absolute-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_PATH', /absolute path/],
    ['symlink-out-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_LINK', /points outside/],
    ['symlink-abs-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_LINK', /points outside/],
    ['hardlink-out-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_LINK', /points outside/],
    ['device-1.0.tar.gz', 'PYTI_INPUT_UNSAFE_LINK', /CharacterDevice/],
    ['no-metadata-1.0.tar.gz', 'PYTI_INPUT_NO_METADATA', /no PKG-INFO/],
    ['no-version-1.0.tar.gz', 'PYTI_INPUT_NO_METADATA', /Name and Version/],
    ['bomb-1.0.tar.gz', 'PYTI_INPUT_TOO_LARGE', /compression bomb/],
    ['truncated-1.0.tar.gz', 'PYTI_INPUT_MALFORMED', /corrupt or truncated|TAR_BAD_ARCHIVE|unexpected end/i],
    ['not-an-archive-1.0.tar.gz', 'PYTI_INPUT_NOT_ARCHIVE', /not gzip/],
    ['notes.txt', 'PYTI_INPUT_NOT_ARCHIVE', /not a wheel/],
    ['missing-1.0.tar.gz', 'PYTI_INPUT_NOT_FOUND', /no such file/],
    ['zip_traversal-1.0-py3-none-any.whl', 'PYTI_INPUT_UNSAFE_PATH', /unsafe member path|climbs out/],
    ['zip_absolute-1.0-py3-none-any.whl', 'PYTI_INPUT_UNSAFE_PATH', /unsafe member path|absolute/],
    ['zip_symlink-1.0-py3-none-any.whl', 'PYTI_INPUT_UNSAFE_LINK', /symbolic link/],
    ['zip_no_metadata-1.0-py3-none-any.whl', 'PYTI_INPUT_NO_METADATA', /METADATA/],
    ['zip_bomb-1.0-py3-none-any.whl', 'PYTI_INPUT_TOO_LARGE', /bomb|beyond/],
    ['not_zip-1.0-py3-none-any.whl', 'PYTI_INPUT_NOT_ARCHIVE', /not a zip/],
    ['zipsdist_no_pkginfo-1.0.zip', 'PYTI_INPUT_NO_METADATA', /no PKG-INFO/],
    ['zipsdist_traversal-1.0.zip', 'PYTI_INPUT_UNSAFE_PATH', /unsafe member path|climbs out/],
    ['zipsdist_not_zip-1.0.zip', 'PYTI_INPUT_NOT_ARCHIVE', /not a zip/],
  ])('%s → %s', async (name, code, message) => {
    const err = await rejection(name);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('accepts a legacy zip sdist, reading its PKG-INFO', async () => {
    const d = await validateDist(join(dir, 'zipsdist-1.0.zip'));
    expect(d).toMatchObject({ kind: 'sdist', name: 'zipsdist', version: '1.0', members: 2 });
  });

  it('rejects gzip whose content is not tar (a corrupt header must not escape as an uncaught error)', async () => {
    const path = join(dir, 'garbage-1.0.tar.gz');
    writeFileSync(path, gzipSync(Buffer.alloc(1000, 1)));
    const err = await rejection('garbage-1.0.tar.gz');
    expect(err.code).toBe('PYTI_INPUT_MALFORMED');
  });
});

describe('validateDist reads a large wheel', () => {
  it('finds the METADATA a wheel keeps last, after more than 4 MiB of modules (a C-extension wheel such as Cython\'s)', async () => {
    const path = join(dir, 'big_ext-2.0-cp311-cp311-linux_x86_64.whl');
    execFileSync('python3', ['-c', `
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("big_ext/__init__.py", "")
    z.writestr("big_ext/_core.so", os.urandom(5 * 1024 * 1024))
    z.writestr("big_ext-2.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: big-ext\\nVersion: 2.0\\n")
    z.writestr("big_ext-2.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: false\\n")
    z.writestr("big_ext-2.0.dist-info/RECORD", "")
`, path]);
    expect(await validateDist(path)).toMatchObject({ kind: 'wheel', name: 'big-ext', version: '2.0', members: 5 });
  });
});
