import { screenRequirements } from './requirements.js';
import { parseRequiresTxt } from './sdist-requirements.js';
import { pipDownloadArgv, pipError, resolvedFiles } from './pip-download.js';

describe('prefetch parts', () => {
  it('screens requirement strings before they reach pip', () => {
    const s = screenRequirements(['idx-leaf>=1.0', 'requests[socks] ; python_version >= "3"', '-r /etc/passwd', '--index-url=http://evil',
      'evil @ https://x/evil.whl', 'ok; extra == "a@b"', 'two\nlines', 'idx-leaf>=1.0', '']);
    expect(s.accepted).toEqual(['idx-leaf>=1.0', 'requests[socks] ; python_version >= "3"', 'ok; extra == "a@b"']);
    expect(s.refused.map((r) => r.reason)).toEqual([
      'does not start with a project name', 'does not start with a project name', 'direct references (name @ URL) are not fetched', 'not a one-line requirement',
    ]);
  });

  it('reads setuptools requires.txt without extras', () => {
    expect(parseRequiresTxt('a>=1\nb\n\n[:python_version < "3.8"]\nc\n\n[test]\npytest\n[test:sys_platform == "win32"]\nx\n')).toEqual([
      'a>=1', 'b', 'c; python_version < "3.8"',
    ]);
  });

  it('builds pip\'s command line for the guest target, binary only', () => {
    const a = pipDownloadArgv({ tags: { python: '3.11', implementation: 'cp', abi: 'cp311', platforms: ['manylinux_2_36_x86_64', 'linux_x86_64'] }, simpleUrl: 'http://127.0.0.1:1234/simple/', requirements: ['a>=1'] });
    expect(a).toEqual(expect.arrayContaining(['--only-binary=:all:', '--python-version', '3.11', '--abi', 'cp311', '--implementation', 'cp', '--trusted-host', '127.0.0.1:1234']));
    expect(a.filter((x) => x === '--platform')).toHaveLength(2);
    expect(a.slice(-2)).toEqual(['--', 'a>=1']);
  });

  it('reads what pip resolved and why it failed', () => {
    expect(resolvedFiles('Collecting a\n  File was already downloaded /tmp/dl/a-1-py3-none-any.whl\nSaved ./dl/b-2-py3-none-any.whl\nSuccessfully downloaded a b\n'))
      .toEqual(['a-1-py3-none-any.whl', 'b-2-py3-none-any.whl']);
    expect(pipError('WARNING: x\nERROR: Could not find a version that satisfies the requirement a>=9\nERROR: No matching distribution found for a>=9\n', ''))
      .toBe('ERROR: Could not find a version that satisfies the requirement a>=9\nERROR: No matching distribution found for a>=9');
  });
});
