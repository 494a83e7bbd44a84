import { decodeEntities, parseDistFilename, simpleFiles, versionFromFilename } from './simple-page.js';
import { indexLocation, projectSimpleUrl } from './index-url.js';

const A = 'a'.repeat(64);
const B = 'B'.repeat(64);
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('Simple API project pages from an untrusted index', () => {
  it('reads a PEP 503 page as pypi.org writes it: hashes, requires-python, yanks, relative links', () => {
    const html = `<!DOCTYPE html>
<html>
  <head><meta name="pypi:repository-version" content="1.1"><title>Links for attrs</title></head>
  <body>
    <h1>Links for attrs</h1>
    <a href="https://files.pythonhosted.org/packages/aa/bb/attrs-23.1.0-py3-none-any.whl#sha256=${A}" data-requires-python="&gt;=3.7" data-dist-info-metadata="sha256=${A}">attrs-23.1.0-py3-none-any.whl</a><br />
    <a href="../../packages/cc/attrs-23.1.0.tar.gz#sha256=${B}" data-requires-python="&gt;=3.7">attrs-23.1.0.tar.gz</a><br />
    <a href="/packages/attrs-23.2.0rc1.tar.gz#md5=0123" >attrs-23.2.0rc1.tar.gz</a><br />
    <a href='/p/attrs-22.0.tar.gz#sha256=${A}' data-yanked="">attrs-22.0.tar.gz</a><br/>
    <a href="/p/other-1.0.tar.gz#sha256=${A}">other-1.0.tar.gz</a>
    <a href="javascript:alert(1)">attrs-9.9.tar.gz</a>
    <a href="/p/x#sha256=${A}">../attrs-9.8.tar.gz</a>
  </body>
</html>`;
    const files = simpleFiles(html, 'text/html; charset=utf-8', 'https://pypi.org/simple/attrs/', 'attrs');
    expect(files).toEqual([
      { filename: 'attrs-23.1.0-py3-none-any.whl', url: 'https://files.pythonhosted.org/packages/aa/bb/attrs-23.1.0-py3-none-any.whl', version: '23.1.0', sha256: A, yanked: false, requiresPython: '>=3.7', packagetype: 'bdist_wheel' },
      { filename: 'attrs-23.1.0.tar.gz', url: 'https://pypi.org/packages/cc/attrs-23.1.0.tar.gz', version: '23.1.0', sha256: B.toLowerCase(), yanked: false, requiresPython: '>=3.7', packagetype: 'sdist' },
      { filename: 'attrs-23.2.0rc1.tar.gz', url: 'https://pypi.org/packages/attrs-23.2.0rc1.tar.gz', version: '23.2.0rc1', yanked: false, packagetype: 'sdist' },
      { filename: 'attrs-22.0.tar.gz', url: 'https://pypi.org/p/attrs-22.0.tar.gz', version: '22.0', sha256: A, yanked: true, packagetype: 'sdist' },
    ]);
  });

  it('reads a PEP 691 JSON page', () => {
    const doc = {
      meta: { 'api-version': '1.1' }, name: 'idx-leaf',
      files: [
        { filename: 'idx_leaf-1.1.tar.gz', url: '../../packages/x/idx_leaf-1.1.tar.gz', hashes: { sha256: A }, 'requires-python': '>=3.8', yanked: false },
        { filename: 'idx_leaf-1.0.tar.gz', url: 'http://h/idx_leaf-1.0.tar.gz', hashes: { md5: '00' }, yanked: 'broken' },
        { filename: '../idx_leaf-1.2.tar.gz', url: 'http://h/x', hashes: { sha256: A } },
      ],
    };
    const files = simpleFiles(JSON.stringify(doc), 'application/vnd.pypi.simple.v1+json', 'http://127.0.0.1:9/simple/idx-leaf/', 'IDX.Leaf');
    expect(files.map((f) => [f.filename, f.version, f.sha256, f.yanked, f.url])).toEqual([
      ['idx_leaf-1.1.tar.gz', '1.1', A, false, 'http://127.0.0.1:9/packages/x/idx_leaf-1.1.tar.gz'],
      ['idx_leaf-1.0.tar.gz', '1.0', undefined, true, 'http://h/idx_leaf-1.0.tar.gz'],
    ]);
    expect(code(() => simpleFiles('{"files": 3}', 'application/vnd.pypi.simple.v1+json', 'http://h/', 'x'))).toBe('PYTI_INDEX_MALFORMED');
    expect(code(() => simpleFiles('<html>', 'application/vnd.pypi.simple.v1+json', 'http://h/', 'x'))).toBe('PYTI_INDEX_MALFORMED');
  });

  it('takes versions from file names of the project only, also legacy names with dashes', () => {
    expect(versionFromFilename('zope.interface-6.0.tar.gz', 'zope-interface')).toBe('6.0');
    expect(versionFromFilename('zope_interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl', 'Zope.Interface')).toBe('6.0');
    expect(versionFromFilename('foo-2-1.0.tar.gz', 'foo-2')).toBe('1.0');
    expect(versionFromFilename('foo-1.0-1-py3-none-any.whl', 'foo')).toBe('1.0');
    expect(versionFromFilename('foobar-1.0.tar.gz', 'foo')).toBeUndefined();
    expect(versionFromFilename('foo-1.0.exe', 'foo')).toBeUndefined();
    expect(parseDistFilename('python-dateutil-2.8.2.tar.gz')).toEqual({ project: 'python-dateutil', version: '2.8.2' });
    expect(parseDistFilename('idx_app-1.0-py3-none-any.whl')).toEqual({ project: 'idx_app', version: '1.0' });
    expect(parseDistFilename('../x-1.0.tar.gz')).toBeUndefined();
    expect(decodeEntities('&gt;=3.8,&#33;=3.9&#x2e;1 &bogus;')).toBe('>=3.8,!=3.9.1 &bogus;');
  });

  it('takes an index as its base or as its Simple API root', () => {
    expect(indexLocation('http://127.0.0.1:8080')).toEqual({ indexUrl: 'http://127.0.0.1:8080', simpleUrl: 'http://127.0.0.1:8080/simple/' });
    expect(indexLocation('http://127.0.0.1:8080/simple/')).toEqual({ indexUrl: 'http://127.0.0.1:8080', simpleUrl: 'http://127.0.0.1:8080/simple/' });
    expect(indexLocation('https://pypi.org/simple')).toEqual({ indexUrl: 'https://pypi.org', simpleUrl: 'https://pypi.org/simple/' });
    expect(indexLocation('https://m.example/root/pypi/+simple/')).toEqual({ indexUrl: 'https://m.example/root/pypi', simpleUrl: 'https://m.example/root/pypi/+simple/' });
    expect(indexLocation('https://m.example/mirror/')).toEqual({ indexUrl: 'https://m.example/mirror', simpleUrl: 'https://m.example/mirror/simple/' });
    expect(indexLocation('http://simple')).toEqual({ indexUrl: 'http://simple', simpleUrl: 'http://simple/simple/' });
    expect(projectSimpleUrl('https://pypi.org/simple/', 'Zope.Interface')).toBe('https://pypi.org/simple/zope-interface/');
    expect(code(() => projectSimpleUrl('https://pypi.org/simple/', '../x'))).toBe('PYTI_INDEX_NOT_FOUND');
  });
});
