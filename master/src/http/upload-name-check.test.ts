import { checkUploadName, filenameMatches } from './upload-name-check.js';

describe('upload file names against the archive\'s metadata', () => {
  it('accepts the names packaging tools give a project\'s sdists and wheels', () => {
    expect(filenameMatches('requests-2.32.3.tar.gz', 'requests', '2.32.3')).toBe(true);
    expect(filenameMatches('python-dateutil-2.8.2.tar.gz', 'python-dateutil', '2.8.2')).toBe(true); // legacy: `-` in the name
    expect(filenameMatches('python_dateutil-2.8.2-py2.py3-none-any.whl', 'python-dateutil', '2.8.2')).toBe(true);
    expect(filenameMatches('Zope.Interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl', 'zope-interface', '6.0')).toBe(true);
    expect(filenameMatches('pkg-1.0-1-py3-none-any.whl', 'pkg', '1.0')).toBe(true); // build tag
    expect(filenameMatches('pkg-1.0.0.tar.gz', 'pkg', '1.0')).toBe(true); // PEP 440: 1.0 == 1.0.0
    expect(filenameMatches('pkg-1.0rc1.zip', 'PKG', '1.0-rc.1')).toBe(true);
  });

  it('refuses another project\'s name or another version', () => {
    expect(filenameMatches('requests-2.32.3.tar.gz', 'evil', '0.1')).toBe(false);
    expect(filenameMatches('requests-2.32.3.tar.gz', 'requests', '2.32.4')).toBe(false);
    expect(filenameMatches('requests-2.32.3-py3-none-any.whl', 'requests-2', '32.3')).toBe(false); // wheels have no `-` in the name
    expect(filenameMatches('requests2.32.3.tar.gz', 'requests', '2.32.3')).toBe(false);
    expect(filenameMatches('requests-2.32.3-py3-any.whl', 'requests', '2.32.3')).toBe(false);
    expect(() => checkUploadName('requests-2.32.3.tar.gz', { name: 'evil', version: '0.1' }))
      .toThrow(expect.objectContaining({ code: 'PYTI_UPLOAD_NAME_MISMATCH', message: expect.stringContaining('"evil" version "0.1"') }));
  });
});
