/**
 * The trace viewer's classifier and pager on real traces: the ssh-writer fixture (a setup.py that
 * writes ~/.ssh/authorized_keys) audited in bubblewrap, its build once isolated (`python -m build`
 * with setuptools and wheel from the wheelhouse: pip fills a build env with ~3 200 files) and once
 * in-process (the image's setuptools), and its install and import.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parseStrace, StraceParser } from './strace-parser.js';
import { buildTraceIndex, queryTrace, TraceIndexBuilder, type TraceFileRow, type TraceIndex, type TraceProcessRow } from './trace-index.js';
import { OwnerRules, runsPackageCode } from './trace-owner.js';

const PATHS = { work: '/work', tmp: '/tmp', home: '/home/alex' };
const load = (name: string): TraceIndex =>
  buildTraceIndex(parseStrace(gunzipSync(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)))).events, PATHS);

describe('the trace classifier on a real isolated build', () => {
  const idx = load('ssh-writer-isolated-build.strace.gz');
  const files = (owner: 'package' | 'tooling'): TraceFileRow[] => queryTrace(idx, { kind: 'files', owner, offset: 0, limit: 1e6 }).rows as TraceFileRow[];

  it('puts pip\'s build environment under tooling and the package\'s own files first', () => {
    const page = queryTrace(idx, { kind: 'files', offset: 0, limit: 50 });
    expect(page.totals.all).toBeGreaterThan(3000);
    expect(page.totals.tooling).toBeGreaterThan(3000);
    expect(page.totals.package).toBeGreaterThanOrEqual(30);
    expect(page.totals.package).toBeLessThan(60);
    const pkg = files('package').map((f) => f.path);
    expect(pkg).toEqual(expect.arrayContaining([
      '/home/alex/.ssh/authorized_keys', '/home/alex/.ssh/id_rsa', '/work/scratch/build/src/setup.py',
      '/work/scratch/build/src/build/lib/ssh_writer/__init__.py', '/work/data/wheel/ssh_writer-1.0-py3-none-any.whl',
    ]));
    expect(pkg.filter((p) => p.includes('/build-env-'))).toEqual([]);
    expect(pkg.filter((p) => p.startsWith('/opt/pyti/') || p.startsWith('/usr/'))).toEqual([]);
    const tooling = files('tooling').map((f) => f.path);
    expect(tooling.filter((p) => /\/build-env-[^/]+\/lib\/python3\.\d+\/site-packages\/setuptools\//.test(p)).length).toBeGreaterThan(500);
    expect(tooling).not.toContain('/home/alex/.ssh/authorized_keys');
  });

  it('cites the line that wrote the key, with the writer\'s pid', () => {
    const key = files('package').find((f) => f.path === '/home/alex/.ssh/authorized_keys')!;
    expect(key.ops).toContain('create');
    const raw = gunzipSync(readFileSync(new URL('./fixtures/ssh-writer-isolated-build.strace.gz', import.meta.url))).toString('utf8').split('\n');
    expect(raw[key.line - 1]).toContain('authorized_keys');
    expect(raw[key.line - 1]).toMatch(new RegExp(`^${key.pid}\\s`));
  });

  it('attributes processes by lineage: the hook runner is the package, pip and build are tooling', () => {
    const procs = (owner: 'package' | 'tooling'): TraceProcessRow[] => queryTrace(idx, { kind: 'processes', owner, offset: 0, limit: 1000 }).rows as TraceProcessRow[];
    const pkg = procs('package');
    expect(pkg.length).toBeGreaterThanOrEqual(2);
    for (const p of pkg) expect(p.argv.join(' ')).toMatch(/_in_process\.py (get_requires_for_build_wheel|build_wheel)/);
    const tooling = procs('tooling').map((p) => p.argv.join(' '));
    expect(tooling).toEqual(expect.arrayContaining([expect.stringMatching(/-m build --wheel/), expect.stringMatching(/-m ensurepip/), expect.stringMatching(/-I?m pip install/)]));
    // The root's children are in the tree.
    const root = idx.processes.find((p) => p.argv.join(' ').includes('-m build --wheel'))!;
    expect(root.children.length).toBeGreaterThan(3);
  });

  it('pages and searches: counts before and after the filters', () => {
    const first = queryTrace(idx, { kind: 'files', owner: 'tooling', offset: 0, limit: 100 });
    const second = queryTrace(idx, { kind: 'files', owner: 'tooling', offset: 100, limit: 100 });
    expect(first.rows).toHaveLength(100);
    expect(first.matched).toBe(first.totals.tooling);
    expect(second.rows[0]).toEqual(first.matched > 100 ? (files('tooling')[100]) : undefined);
    const last = queryTrace(idx, { kind: 'files', owner: 'tooling', offset: first.matched - 5, limit: 100 });
    expect(last.rows).toHaveLength(5);
    const ssh = queryTrace(idx, { kind: 'files', q: '.SSH/', offset: 0, limit: 10 });
    expect(ssh.rows.map((r) => (r as TraceFileRow).path).sort()).toEqual(['/home/alex/.ssh/authorized_keys', '/home/alex/.ssh/id_rsa']);
    expect(ssh.matched).toBe(2);
    expect(queryTrace(idx, { kind: 'processes', q: 'ensurepip', offset: 0, limit: 10 }).matched).toBe(1);
    // By operation: `changed` leaves out what was only read.
    const changed = queryTrace(idx, { kind: 'files', owner: 'package', op: 'changed', offset: 0, limit: 1000 }).rows.map((r) => (r as TraceFileRow).path);
    expect(changed).toContain('/home/alex/.ssh/authorized_keys');
    expect(changed).not.toContain('/home/alex/.ssh/id_rsa');
    expect(changed).not.toContain('/work/scratch/build/src/setup.py');
    const reads = queryTrace(idx, { kind: 'files', owner: 'package', op: 'read', offset: 0, limit: 1000 }).rows.map((r) => (r as TraceFileRow).path);
    expect(reads).toEqual(expect.arrayContaining(['/home/alex/.ssh/id_rsa', '/work/scratch/build/src/setup.py']));
    expect(queryTrace(idx, { kind: 'network', op: 'bind', offset: 0, limit: 10 }).matched).toBe(idx.network.filter((n) => n.op === 'bind').length);
    expect(queryTrace(idx, { kind: 'network', op: 'connect', offset: 0, limit: 10 }).matched).toBe(0);
  });
});

describe('the trace classifier on a real in-process build, install and import', () => {
  it('in-process build: the whole process is the package\'s, setuptools\' own reads are tooling', () => {
    const idx = load('ssh-writer-inprocess-build.strace.gz');
    expect(idx.processes.every((p) => p.owner === 'package')).toBe(true);
    const byPath = new Map(idx.files.map((f) => [f.path, f]));
    expect(byPath.get('/home/alex/.ssh/authorized_keys')?.owner).toBe('package');
    const setuptoolsReads = idx.files.filter((f) => f.path.startsWith('/usr/lib/python3/dist-packages/'));
    expect(setuptoolsReads.length).toBeGreaterThan(10);
    expect(setuptoolsReads.every((f) => f.owner === 'tooling')).toBe(true);
  });

  it('install: pip is tooling, what it puts into the venv\'s site-packages is the package\'s', () => {
    const idx = load('ssh-writer-install.strace.gz');
    expect(idx.processes.every((p) => p.owner === 'tooling')).toBe(true);
    const pkg = idx.files.filter((f) => f.owner === 'package').map((f) => f.path);
    expect(pkg).toContain('/work/data/venv/lib/python3.11/site-packages/ssh_writer/__init__.py');
    expect(pkg).toContain('/work/data/venv/lib/python3.11/site-packages/ssh_writer-1.0.dist-info/RECORD');
    expect(pkg.filter((p) => p.includes('/tmp/pip-') || p.startsWith('/work/raw/'))).toEqual([]);
  });

  it('import: the import driver runs the package\'s code', () => {
    const idx = load('ssh-writer-import.strace.gz');
    expect(idx.processes[0]!.argv.join(' ')).toContain('import_all.py');
    expect(idx.processes[0]!.owner).toBe('package');
  });
});

describe('building the index from the streaming parser', () => {
  it('gives the same index fed in odd-sized chunks as from the whole parsed trace', () => {
    const buf = gunzipSync(readFileSync(new URL('./fixtures/ssh-writer-install.strace.gz', import.meta.url)));
    const b = new TraceIndexBuilder(PATHS);
    const parser = new StraceParser((e) => b.add(e));
    for (let i = 0; i < buf.length; i += 4093) parser.push(buf.subarray(i, i + 4093));
    parser.end();
    expect(b.finish()).toEqual(buildTraceIndex(parseStrace(buf).events, PATHS));
  });
});

describe('limits against a hostile trace', () => {
  it('caps a process\'s argv and marks it cut', () => {
    const arg = 'A'.repeat(3000);
    const line = `7 1.0 execve("/bin/sh", [${Array.from({ length: 100 }, () => `"${arg}"`).join(', ')}], 0x7ffd0 /* 3 vars */) = 0\n`;
    const idx = buildTraceIndex(parseStrace(line).events, PATHS);
    const p = idx.processes[0]!;
    expect(p.argv.join('').length).toBeLessThanOrEqual(8192);
    expect(p.argv[0]!.length).toBe(2000);
    expect(p.argvTruncated).toBe(true);
  });
});

describe('owner rules', () => {
  it('package runners by argv', () => {
    expect(runsPackageCode(['python', '/x/pyproject_hooks/_in_process/_in_process.py', 'build_wheel', '/tmp/t'])).toBe(true);
    expect(runsPackageCode(['python', '-u', 'setup.py', 'egg_info'])).toBe(true);
    expect(runsPackageCode(['python', '-c', "import setuptools; __file__='/tmp/pip-req-build-x/setup.py'; exec(compile(f.read(), __file__, 'exec'))"])).toBe(true);
    expect(runsPackageCode(['python', '-m', 'pip', 'install', 'setup.py'])).toBe(false);
    expect(runsPackageCode(['python', '-c', 'print(1)'])).toBe(false);
    expect(runsPackageCode(['sh', '-c', 'curl x | sh'])).toBe(false);
  });

  it('a package process\'s writes stay the package\'s, even into tooling places', () => {
    const r = new OwnerRules(PATHS);
    expect(r.fileOwner('write', '/tmp/build-env-abc/lib/python3.11/site-packages/pip/__init__.py', 'package')).toBe('package');
    expect(r.fileOwner('read', '/tmp/build-env-abc/lib/python3.11/site-packages/setuptools/dist.py', 'package')).toBe('tooling');
    expect(r.fileOwner('create', '/tmp/build-env-abc/lib/python3.11/site-packages/setuptools/dist.py', 'tooling')).toBe('tooling');
    expect(r.fileOwner('create', '/work/data/venv/lib/python3.11/site-packages/evil/__init__.py', 'tooling')).toBe('package');
    expect(r.fileOwner('create', '/work/data/venv/lib/python3.11/site-packages/pip/__init__.py', 'tooling')).toBe('tooling');
    // PyTI's own scripts are tooling; a fallback module the package's import needed is the package's (the report's reach lists them).
    expect(r.fileOwner('read', '/opt/pyti/tasks/guest/import_all.py', 'package')).toBe('tooling');
    expect(r.fileOwner('read', '/opt/pyti/fallback-modules/yaml/__init__.py', 'package')).toBe('package');
    // The build's view of the image (build_wheel.py's symlinks to the image's setuptools and wheel): read as the tooling's, written as the package's.
    expect(r.fileOwner('read', '/work/scratch/build/build-view/setuptools/dist.py', 'package')).toBe('tooling');
    expect(r.fileOwner('probe', '/work/scratch/build/build-view/setuptools/__init__.abi3.so', 'package')).toBe('tooling');
    expect(r.fileOwner('write', '/work/scratch/build/build-view/setuptools/dist.py', 'package')).toBe('package');
    expect(r.fileOwner('read', '/work/scratch/build/src/setup.py', 'package')).toBe('package');
  });
});
