// diffAudits on real reports: `pyti audit` of the fixture project diffdemo 1.0 and 1.1 (test/fixtures/packages),
// captured once into ./fixtures (the console left out). 1.1 adds a DNS lookup of diffdemo-beacon.invalid and a
// connect to 127.0.0.1:9 at import, a new failing test, and a lint message.
import { readFileSync } from 'node:fs';
import type { AuditReport } from '@pyti/common';
import { DIFF_LIST_CAP, diffAudits, setDiff } from './audit-diff.js';
import { normalizer } from './trace-items.js';

const report = (v: string): AuditReport => JSON.parse(readFileSync(new URL(`./fixtures/diffdemo-${v}.report.json`, import.meta.url), 'utf8')) as AuditReport;
const v10 = report('1.0');
const v11 = report('1.1');

describe('diffAudits', () => {
  it('names the network call 1.1 added at import: DNS name, target, sinkhole query and the findings', () => {
    const d = diffAudits(v10, v11, { from: 'a1', to: 'a2' });
    expect(d.changed).toBe(true);
    expect(d.from).toMatchObject({ auditId: 'a1', version: '1.0', verdict: 'clean', result: 'pass' });
    expect(d.to).toMatchObject({ auditId: 'a2', version: '1.1', verdict: 'suspicious', result: 'test-fail' });
    expect(d.dns.added).toContainEqual({ phase: 'import', text: 'diffdemo-beacon.invalid' });
    expect(d.dns.removed).toEqual([]);
    expect(d.network.added).toContainEqual({ phase: 'import', text: 'connect 127.0.0.1:9/tcp' });
    expect(d.sinkhole?.added).toContainEqual({ phase: 'import', text: 'dns A diffdemo-beacon.invalid' });
    const rules = d.findings.added.filter((f) => f.phase === 'import').map((f) => f.rule);
    expect(rules).toEqual(expect.arrayContaining(['dns-lookup', 'network-attempt']));
    expect(d.findings.added.find((f) => f.rule === 'install-time-network')?.evidence).toContain('diffdemo/__init__.py: s.connect(("127.0.0.1", 9))');
    expect(d.findings.removed).toEqual([]);
    expect(d.highlights[0]).toMatch(/^new high finding \[(network-attempt|dns-lookup)\]/);
    expect(d.highlights).toContain('verdict clean → suspicious');
  });

  it('compares tests by id: the new failure, the new and the removed tests', () => {
    const t = diffAudits(v10, v11).tests;
    expect(t.newFailures).toEqual(['tests/test_diffdemo.py::test_greet_strips']);
    expect(t.added).toEqual(['tests/test_diffdemo.py::test_shout', 'tests/test_diffdemo.py::test_greet_strips']);
    expect(t.removed).toEqual(['tests/test_diffdemo.py::test_version_is_1_0']);
    expect(t.fixed).toEqual([]);
    expect(t.from).toMatchObject({ total: 2, passed: 2, failed: 0 });
    expect(t.to).toMatchObject({ total: 3, passed: 2, failed: 1 });
    // The other way round the failure is gone: not "fixed" (the test does not exist in 1.0), removed.
    const back = diffAudits(v11, v10).tests;
    expect(back.newFailures).toEqual([]);
    expect(back.removed).toContain('tests/test_diffdemo.py::test_greet_strips');
  });

  it('reports lint and coverage before and after', () => {
    const d = diffAudits(v10, v11);
    expect(d.lint.score).toEqual({ from: 10, to: 8.89, changed: true });
    expect(d.lint.counts).toEqual([{ type: 'convention', from: 0, to: 2 }]);
    expect(d.lint.style).toEqual({ from: 0, to: 1, changed: true });
    expect(d.coverage).toEqual({ from: 100, to: 100, changed: false });
  });

  it('sees no change between two releases running the same commands: versions and temp names are normalized', () => {
    const d = diffAudits(v10, v11);
    // pip, the build backend and the import and execute helpers ran in both, with the version in file names.
    expect(d.processes).toEqual({ added: [], removed: [] });
    expect(d.files).toEqual({ added: [], removed: [] });
    const same = diffAudits(v11, v11);
    expect(same.changed).toBe(false);
    expect(same.highlights).toEqual([]);
  });

  it('normalizes the random names of temp files and build environments', () => {
    const norm = normalizer('1.1');
    expect(norm("/tmp/build-env-ab_cdefg/bin/python -m pip install --find-links '/tmp/tmpj2fuwymr' -r /tmp/build-reqs-1of0trc9.txt"))
      .toBe("/tmp/build-env-*/bin/python -m pip install --find-links '/tmp/tmp*' -r /tmp/build-reqs-*.txt");
    expect(norm('/work/data/wheel/diffdemo-1.1-py3-none-any.whl /tmp/evil-payload.sh /tmp/pyti-updater')).toBe('/work/data/wheel/diffdemo-{version}-py3-none-any.whl /tmp/evil-payload.sh /tmp/pyti-updater');
  });

  it('finds a new dependency, a version change, a new command and a write outside the install', () => {
    const b = structuredClone(v11) as AuditReport;
    b.distribution.requiresDist = ['requests>=2'];
    b.install = { ...b.install, installed: [...(b.install?.installed ?? []), { name: 'requests', version: '2.32.3' }] };
    const a = structuredClone(v10) as AuditReport;
    a.install = { ...a.install, installed: [...(a.install?.installed ?? []), { name: 'Requests', version: '2.31.0' }, { name: 'idna', version: '3.7' }] };
    b.traces.import!.processes.push({ pid: 999, argv: ['/usr/bin/curl', '-s', 'http://x.invalid'], startTime: 0, children: [] });
    b.traces.import!.files.push({ path: '/work/home/.bashrc', ops: ['write'], count: 1, failed: false, firstSeq: 1 },
      { path: '/work/home/.cache/pip/x', ops: ['write'], count: 1, failed: false, firstSeq: 2 });
    const d = diffAudits(a, b);
    expect(d.dependencies.declared.added).toEqual(['requests>=2']);
    expect(d.dependencies.changed).toEqual([{ name: 'requests', from: '2.31.0', to: '2.32.3' }]);
    expect(d.dependencies.installed.removed).toEqual([{ name: 'idna', version: '3.7' }]);
    expect(d.processes.added).toEqual([{ phase: 'import', text: '/usr/bin/curl -s http://x.invalid' }]);
    expect(d.files.added).toEqual([{ phase: 'import', text: '/work/home/.bashrc (write)' }]);
  });

  it('reads reports lacking sections (older or malformed) as empty instead of failing', () => {
    const bare = { distribution: { name: 'x', version: '1' }, traces: { import: { processes: 'nope' } }, findings: [null, 7] } as unknown as AuditReport;
    const d = diffAudits(bare, v10);
    expect(d.tests.from).toBeNull();
    expect(d.coverage.from).toBeNull();
    expect(d.sinkhole).not.toBeNull();
    expect(d.processes.added.length).toBeGreaterThan(0);
    expect(diffAudits(bare, bare).sinkhole).toBeNull();
  });

  it('caps long lists and counts what it left out', () => {
    const many = Array.from({ length: DIFF_LIST_CAP + 7 }, (_, i) => `x${i}`);
    const s = setDiff([], many, (x) => x);
    expect(s.added).toHaveLength(DIFF_LIST_CAP);
    expect(s.omitted).toEqual({ added: 7, removed: 0 });
  });
});
