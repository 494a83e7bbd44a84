/**
 * pyti_common.find_modules (lint and style targets) on real projects' trees: the upstream repositories
 * that the corpus uses, as the search tool's fetch stores them in /work/.mirror/OWNER+REPO/repo (or
 * PYTI_MIRRORS). A repository that is not there is skipped, and the test says so in its name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MIRRORS = process.env.PYTI_MIRRORS ?? '/work/.mirror';
const GUEST = new URL('../../tasks/guest/', import.meta.url).pathname;

const CASES: [string, string[]][] = [
  ['yaml/pyyaml', ['lib/_yaml', 'lib/yaml']], // setup.py package_dir={'': 'lib'}
  ['python-attrs/attrs', ['src/attr', 'src/attrs']], // src/ layout; typing_tests/ at the root is not the package
  ['pytoolz/toolz', ['tlz', 'toolz']], // versioneer.py at the root
  ['dateutil/dateutil', ['src/dateutil']], // setup.cfg package_dir = =src; updatezinfo.py is a script
  ['aio-libs/yarl', ['yarl']], // benchmark.py and url_benchmark.py beside the package
  ['benjaminp/six', ['six.py']], // a single module
  ['pypa/packaging', ['src/packaging']], // tasks/ (invoke) at the root
  ['simplejson/simplejson', ['simplejson']],
  ['GrahamDumpleton/wrapt', ['src/wrapt']],
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isolate-layouts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('find_modules on real repositories', () => {
  for (const [repo, expected] of CASES) {
    const git = join(MIRRORS, repo.replace('/', '+'), 'repo');
    const present = existsSync(git);
    (present ? it : it.skip)(`${repo}${present ? '' : ` (skipped: no mirror at ${git})`}`, () => {
      const root = join(dir, repo.replace('/', '+'));
      mkdirSync(root, { recursive: true });
      execFileSync('sh', ['-c', 'git --git-dir="$1" archive HEAD | tar -x -C "$2"', 'sh', git, root]);
      const out = execFileSync('python3', ['-c', 'import json, os, sys, pyti_common as c; r = sys.argv[1]; print(json.dumps([os.path.relpath(m, r) for m in c.find_modules(r)]))', root],
        { cwd: GUEST, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' } });
      expect(JSON.parse(out)).toEqual(expected);
    });
  }
});
