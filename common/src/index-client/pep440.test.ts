import { compareVersions, isPrerelease, isValidVersion, sameVersion } from './pep440.js';

// Real release strings from PyPI (numpy, pytz, Django-style pre-releases, epochs, legacy spellings);
// the expected order and pre-release flags are what Python's packaging.version says (checked with packaging 23).
const REAL = ['1.26.0rc1', '1.26.0', '1.26.0b1', '2.0.0', '1.25.2', '2.0.0rc2', '2.0.0.dev0', '1.9.3', '1.10.0',
  '2023.3.post1', '2024.1', '2023.3', '2023.4', '1!0.1', '3.2.post1', '3.2', '3.2.1', '3.2a1', '3.2.dev5', '3.2.post1.dev1',
  '0.9', '0.10', '0.10.0', 'v1.0', '1.0.0-1', '1.0c1', '1.0.RC2', '1.0-alpha.1'];
const PACKAGING_ORDER = ['0.9', '0.10', '0.10.0', '1.0-alpha.1', '1.0c1', '1.0.RC2', 'v1.0', '1.0.0-1', '1.9.3', '1.10.0', '1.25.2',
  '1.26.0b1', '1.26.0rc1', '1.26.0', '2.0.0.dev0', '2.0.0rc2', '2.0.0', '3.2.dev5', '3.2a1', '3.2', '3.2.post1.dev1', '3.2.post1',
  '3.2.1', '2023.3', '2023.3.post1', '2023.4', '2024.1', '1!0.1'];
const PRERELEASES = new Set(['1.26.0rc1', '1.26.0b1', '2.0.0rc2', '2.0.0.dev0', '3.2a1', '3.2.dev5', '3.2.post1.dev1', '1.0c1', '1.0.RC2', '1.0-alpha.1']);

describe('PEP 440 versions', () => {
  it('orders real release strings as packaging.version does', () => {
    expect([...REAL].sort(compareVersions)).toEqual(PACKAGING_ORDER);
  });

  it('knows pre-releases and development releases', () => {
    for (const v of REAL) expect([v, isPrerelease(v)]).toEqual([v, PRERELEASES.has(v)]);
  });

  it('treats equal versions as the same release, invalid ones as text before valid ones', () => {
    expect(sameVersion('1.0', '1.0.0')).toBe(true);
    expect(sameVersion('1.0', 'V1.0')).toBe(true);
    expect(sameVersion('1.0', '1.0.post0')).toBe(false);
    expect(isValidVersion('2.0-final-x')).toBe(false);
    expect(compareVersions('not-a-version', '0.0.1')).toBeLessThan(0);
    expect(sameVersion('abc', 'abc')).toBe(true);
    expect(isPrerelease('not-a-version')).toBe(false);
  });
});
