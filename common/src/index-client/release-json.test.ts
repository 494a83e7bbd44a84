import { releaseFiles } from './release-json.js';
import { pickFile } from './index-client.js';
import { isPureWheel, safeDistFilename } from './dist-filename.js';
import { normalizeIndexUrl, releaseJsonUrl } from './index-url.js';

const sha = 'a'.repeat(64);
const doc = (urls: unknown[]): unknown => ({ info: {}, urls });
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('release JSON from an untrusted index', () => {
  it('reads files, resolving relative URLs against the document', () => {
    const files = releaseFiles(doc([
      { filename: 'foo-1.0.tar.gz', url: '../../packages/foo-1.0.tar.gz', digests: { sha256: sha.toUpperCase() }, size: 12, packagetype: 'sdist' },
      { filename: 'foo-1.0-py3-none-any.whl', url: 'https://files.example/foo.whl', digests: { sha256: sha } },
    ]), 'http://idx.example/pypi/foo/1.0/json');
    expect(files).toEqual([
      { filename: 'foo-1.0.tar.gz', url: 'http://idx.example/pypi/packages/foo-1.0.tar.gz', sha256: sha, size: 12, packagetype: 'sdist' },
      { filename: 'foo-1.0-py3-none-any.whl', url: 'https://files.example/foo.whl', sha256: sha },
    ]);
  });

  it('skips entries whose names could not be paths, refuses malformed ones', () => {
    const u = 'http://i/pypi/x/1/json';
    expect(releaseFiles(doc([{ filename: '../evil-1.0.tar.gz', url: 'x', digests: { sha256: sha } }, { filename: 'a/b.whl', url: 'x', digests: { sha256: sha } }]), u)).toEqual([]);
    expect(code(() => releaseFiles('nope', u))).toBe('PYTI_INDEX_MALFORMED');
    expect(code(() => releaseFiles({ urls: {} }, u))).toBe('PYTI_INDEX_MALFORMED');
    expect(code(() => releaseFiles(doc([{ filename: 'f-1.tar.gz', url: 'x' }]), u))).toBe('PYTI_INDEX_MALFORMED');
    expect(code(() => releaseFiles(doc([{ filename: 'f-1.tar.gz', url: 'file:///etc/passwd', digests: { sha256: sha } }]), u))).toBe('PYTI_INDEX_MALFORMED');
    expect(code(() => releaseFiles(doc([{ filename: 'f-1.tar.gz', url: 'x', digests: { sha256: sha }, size: -1 }]), u))).toBe('PYTI_INDEX_MALFORMED');
  });

  it('picks the sdist, else a pure wheel, else nothing', () => {
    const f = (filename: string) => ({ filename, url: 'http://i/x', sha256: sha });
    expect(pickFile([f('a-1-cp311-cp311-linux_x86_64.whl'), f('a-1-py3-none-any.whl'), f('a-1.tar.gz')], 'a', '1').filename).toBe('a-1.tar.gz');
    expect(pickFile([f('a-1-cp311-cp311-linux_x86_64.whl'), f('a-1-py2.py3-none-any.whl')], 'a', '1').filename).toBe('a-1-py2.py3-none-any.whl');
    expect(code(() => pickFile([f('a-1-cp311-cp311-linux_x86_64.whl')], 'a', '1'))).toBe('PYTI_INDEX_NOT_FOUND');
    expect(code(() => pickFile([f('a-1.tar.gz')], 'a', '1', '../a-1.tar.gz'))).toBe('PYTI_INDEX_NOT_FOUND');
  });

  it('checks names and URLs', () => {
    expect(safeDistFilename('idx_app-1.0.tar.gz')).toBe(true);
    expect(safeDistFilename('..tar.gz')).toBe(false);
    expect(safeDistFilename('x-1.zip')).toBe(true);
    expect(safeDistFilename('x-1.exe')).toBe(false);
    expect(isPureWheel('x-1-py3-none-any.whl')).toBe(true);
    expect(isPureWheel('x-1-cp311-abi3-any.whl')).toBe(false);
    expect(normalizeIndexUrl('https://pypi.org/')).toBe('https://pypi.org');
    expect(code(() => normalizeIndexUrl('ftp://x'))).toBe('PYTI_CONFIG_INVALID');
    expect(code(() => normalizeIndexUrl('http://u:p@x'))).toBe('PYTI_CONFIG_INVALID');
    expect(releaseJsonUrl('https://pypi.org', 'Foo_Bar', '1.0')).toBe('https://pypi.org/pypi/foo-bar/1.0/json');
  });
});
