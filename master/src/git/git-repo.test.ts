// The repository and branch of a git subscription are checked before git sees them; hostile values
// (options, transport helpers, control characters) are refused with PYTI_SUBSCRIPTION_INVALID.
import { checkBranch } from './git-branch.js';
import { checkRepo, repoBaseName } from './git-repo.js';
import { projectNameFromPyproject } from './project-name.js';

const refused = (field: string, re: RegExp) => expect.objectContaining({ code: 'PYTI_SUBSCRIPTION_INVALID', field, message: expect.stringMatching(re) });

describe('git subscription repository', () => {
  it.each([
    ['/srv/repos/app', 'file'],
    ['/srv/repos/app.git', 'file'],
    ['file:///srv/repos/app', 'file'],
    ['https://github.com/pypa/sampleproject.git', 'https'],
    ['http://127.0.0.1:8080/app.git', 'http'],
    ['ssh://git@example.invalid:2222/team/app.git', 'ssh'],
    ['git://example.invalid/app.git', 'git'],
    ['git@example.invalid:team/app.git', 'ssh'],
    ['example.invalid:repos/app', 'ssh'],
  ])('accepts %s (transport %s)', (repo, protocol) => {
    expect(checkRepo(repo)).toEqual({ repo, protocol });
  });

  it.each([
    ['--upload-pack=touch /tmp/pyti-pwned', /starts with "-"/],
    ['-oProxyCommand=touch /tmp/pyti-pwned', /starts with "-"/],
    ['ext::sh -c touch% /tmp/pyti-pwned', /transport>::<address> syntax/],
    ['fd::17', /transport>::<address> syntax/],
    ['foo::https://example.invalid/x', /transport>::<address> syntax/],
    ['ftp://example.invalid/app.git', /scheme ftp:\/\/ is not one of/],
    ['javascript://x/y', /scheme javascript:\/\/ is not one of/],
    ['relative/path/app', /is not an absolute path/],
    ['app', /is not an absolute path/],
    ['/srv/../etc/app', /without \.\. segments/],
    ['file://remote.invalid/srv/app', /file:\/\/ URLs name a local path/],
    ['https://user:secret@example.invalid/app.git', /credentials in the URL/],
    ['https://token@example.invalid/app.git', /credentials in the URL/],
    ['ssh://-oProxyCommand=touch%20x/app', /not a host name/],
    ['ssh://example.invalid/-app', /the path is missing or starts with "-"/],
    ['git@-oProxyCommand=x:app', /not an absolute path, a file:\/\/.* or user@host:path/],
    ['git@-evil.invalid:app', /not a host name/],
    ['example.invalid:-app', /the path starts with "-"/],
    ['https://example.invalid/app.git?x=1', /no query or fragment/],
    ['/srv/app\n--upload-pack=x', /control characters/],
    ['/srv/app\0', /control characters/],
    [' /srv/app', /white space/],
    ['/srv/' + 'a'.repeat(1100), /longer than 1024/],
    ['', /must be a local path or a URL/],
  ])('refuses %j', (repo, why) => {
    expect(() => checkRepo(repo)).toThrow(refused('repo', why));
  });

  it('refuses values that are not strings', () => {
    for (const v of [undefined, null, 42, ['/srv/app'], { repo: '/srv/app' }]) expect(() => checkRepo(v)).toThrow(refused('repo', /must be a local path/));
  });

  it('names a project after the repository when its pyproject.toml does not', () => {
    expect(repoBaseName('/srv/repos/My App.git')).toBe('My-App');
    expect(repoBaseName('git@example.invalid:team/app.git')).toBe('app');
    expect(repoBaseName('https://example.invalid/team/app/')).toBe('app');
    expect(repoBaseName('/srv/repos/...')).toBe('repository');
  });
});

describe('git subscription branch', () => {
  it.each(['main', 'feature/login', 'release-1.0', 'v2.x', 'üñí'])('accepts %s', (b) => {
    expect(checkBranch(b)).toBe(b);
  });

  it.each([
    ['--orphan', /starts with "-"/],
    ['-f', /starts with "-"/],
    ['a..b', /not a valid branch name/],
    ['a b', /white space/],
    ['x.lock', /not a valid branch name/],
    ['a~1', /not a valid branch name/],
    ['a:b', /not a valid branch name/],
    ['*', /not a valid branch name/],
    ['@{-1}', /not a plain branch name/],
    ['HEAD', /not a plain branch name/],
    ['refs/heads/main', /not a plain branch name/],
    ['main\n', /white space or control/],
    ['b'.repeat(300), /longer than 255/],
    ['', /must be the name of a branch/],
  ])('refuses %j', (b, why) => {
    expect(() => checkBranch(b)).toThrow(refused('branch', why));
  });
});

describe('project name from pyproject.toml (read statically)', () => {
  it('reads [project].name in its plain forms', () => {
    expect(projectNameFromPyproject('[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "pyti-gitpkg"\nversion = "0.1"\n')).toBe('pyti-gitpkg');
    expect(projectNameFromPyproject("[project]  # the metadata\nname='single_quoted' # comment\n")).toBe('single_quoted');
    expect(projectNameFromPyproject('project.name = "dotted"\n[tool.x]\nname = "no"\n')).toBe('dotted');
  });

  it('ignores names of other tables, multi-line strings and invalid names', () => {
    expect(projectNameFromPyproject('[tool.poetry]\nname = "poetry-name"\n')).toBeNull();
    expect(projectNameFromPyproject('[project]\ndescription = """\nname = "inside"\n"""\n')).toBeNull();
    expect(projectNameFromPyproject('[project]\nname = "not a name!"\n')).toBeNull();
    expect(projectNameFromPyproject('[project]\ndynamic = ["name"]\n')).toBeNull();
    expect(projectNameFromPyproject('[[project]]\nname = "array"\n')).toBeNull();
  });
});
