import { parseCoreMetadata, decodeMetadata, METADATA_LIMITS } from './core-metadata.js';

describe('parseCoreMetadata', () => {
  it('a Metadata-Version 2.1 METADATA (wheel shape): every field, description in the body', () => {
    const text = [
      'Metadata-Version: 2.1', 'Name: PyYAML', 'Version: 6.0.1', 'Summary: YAML parser and emitter for Python',
      'Home-page: https://pyyaml.org/', 'Download-URL: https://pypi.org/project/PyYAML/', 'Author: Kirill Simonov', 'Author-email: xi@resolvent.net',
      'License: MIT', 'Project-URL: Bug Tracker, https://github.com/yaml/pyyaml/issues', 'Project-URL: Source Code, https://github.com/yaml/pyyaml',
      'Platform: Any', 'Classifier: Development Status :: 5 - Production/Stable', 'Classifier: Programming Language :: Cython',
      'Requires-Python: >=3.6', 'License-File: LICENSE', 'Keywords: yaml, parser, emitter',
      'Description-Content-Type: text/markdown', 'Provides-Extra: docs', 'Requires-Dist: sphinx ; extra == "docs"', '',
      'YAML is a data serialization format designed for human readability', '', 'and interaction with scripting languages.', '',
    ].join('\n');
    expect(parseCoreMetadata(text)).toEqual({
      name: 'PyYAML', version: '6.0.1', summary: 'YAML parser and emitter for Python',
      description: 'YAML is a data serialization format designed for human readability\n\nand interaction with scripting languages.',
      descriptionContentType: 'text/markdown', author: 'Kirill Simonov', authorEmail: 'xi@resolvent.net', license: 'MIT',
      keywords: ['yaml', 'parser', 'emitter'], homePage: 'https://pyyaml.org/', downloadUrl: 'https://pypi.org/project/PyYAML/',
      projectUrls: [{ label: 'Bug Tracker', url: 'https://github.com/yaml/pyyaml/issues' }, { label: 'Source Code', url: 'https://github.com/yaml/pyyaml' }],
      classifiers: ['Development Status :: 5 - Production/Stable', 'Programming Language :: Cython'],
      requiresPython: '>=3.6', requiresDist: ['sphinx ; extra == "docs"'], providesExtra: ['docs'], metadataVersion: '2.1', metadataEncoding: 'utf-8',
    });
  });

  it('an old PKG-INFO (1.1, setuptools < 36): latin-1 bytes, CRLF, the Description as a folded header with `        |` lines, UNKNOWN dropped', () => {
    const text = 'Metadata-Version: 1.1\r\nName: caf\xe9-tools\r\nVersion: 0.9\r\nSummary: Outils pour le caf\xe9\r\nHome-page: UNKNOWN\r\n'
      + 'Author: Jos\xe9 P\xe9rez\r\nAuthor-email: jose@example.invalid\r\nLicense: BSD\r\n        Copyright (c) 2010\r\n'
      + 'Description: Caf\xe9 tools\r\n        |==========\r\n        |\r\n        |    indented code\r\n'
      + 'Keywords: coffee tools\r\nPlatform: UNKNOWN\r\nClassifier: License :: OSI Approved :: BSD License\r\n';
    const m = parseCoreMetadata(Buffer.from(text, 'latin1'))!;
    expect(m).toMatchObject({
      name: 'café-tools', version: '0.9', summary: 'Outils pour le café', author: 'José Pérez', license: 'BSD\nCopyright (c) 2010',
      description: 'Café tools\n==========\n\n    indented code', keywords: ['coffee', 'tools'], metadataEncoding: 'latin-1', metadataVersion: '1.1',
    });
    expect(m.homePage).toBeUndefined();
  });

  it('UTF-8 with a BOM and CR-only line ends; a folded Summary joins with a space', () => {
    const m = parseCoreMetadata(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Name: naïve\rVersion: 1\rSummary: one\r  two\r\rbody', 'utf8')]))!;
    expect(m).toMatchObject({ name: 'naïve', version: '1', summary: 'one two', description: 'body', metadataEncoding: 'utf-8' });
  });

  it('caps what an archive can put in the report; no Name or Version is null', () => {
    const big = 'x'.repeat(METADATA_LIMITS.maxDescription + 10);
    const m = parseCoreMetadata(`Name: a\nVersion: 1\nRequires-Dist: ${'y'.repeat(5000)}\n${'Classifier: c\n'.repeat(900)}\n${big}`)!;
    expect(m.description!.length).toBe(METADATA_LIMITS.maxDescription);
    expect(m.descriptionTruncated).toBe(true);
    expect(m.requiresDist[0]!.length).toBe(METADATA_LIMITS.maxValue);
    expect(m.classifiers!.length).toBe(METADATA_LIMITS.maxList);
    expect(parseCoreMetadata('Name: a\n\nVersion: 1\n')).toBeNull();
    expect(parseCoreMetadata('Version: 1\n')).toBeNull();
  });

  it('decodeMetadata: invalid UTF-8 is latin-1', () => {
    expect(decodeMetadata(Buffer.from([0x41, 0xe9, 0x42]))).toEqual({ text: 'AéB', encoding: 'latin-1' });
    expect(decodeMetadata(Buffer.from('Aé', 'utf8'))).toEqual({ text: 'Aé', encoding: 'utf-8' });
  });
});
