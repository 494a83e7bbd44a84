import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as tar from 'tar';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditReport, rescoreReport } from '@pyti/common';
import { rescoreDir } from './rescore-dir.js';
import { rescoreCommand } from '../cli/rescore-command.js';
import { writeReport } from '../audit.js';

/** An install trace that connects to a documentation address and writes an SSH key. */
const INSTALL_STRACE = [
  '12 1.0 connect(3<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("203.0.113.9")}, 16) = -1 ENETUNREACH (Network is unreachable)',
  '12 1.1 openat(AT_FDCWD, "/home/pyti/.ssh/authorized_keys", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 4</home/pyti/.ssh/authorized_keys>',
  '',
].join('\n');

function storedReport(): AuditReport {
  return {
    schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: 'evil-1.0.tar.gz', name: 'evil', version: '1.0', kind: 'sdist', sha256: 'a'.repeat(64), sizeBytes: 10, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' },
    result: 'build-fail', verdict: 'failed', score: 0, scoreReasons: [], tasks: [], traces: {},
    findings: [{ rule: 'static-thing', severity: 'low', phase: 'static', title: 'a static finding', evidence: [], sources: [{ file: 'evil-1.0/setup.py', line: 3, excerpt: 'x' }] }],
    timings: { startedAt: '2026-12-02T00:00:00.000Z', totalMs: 1 }, rawFiles: ['raw/install/install.strace'],
  };
}
const raw = () => new Map([['install', new Map([['install.strace', Buffer.from(INSTALL_STRACE)]])]]);

describe('rescoreReport', () => {
  it('brings findings back from the raw traces and re-judges, whatever the result', () => {
    const before = storedReport();
    const after = rescoreReport(before, raw());
    expect(after.findings.map((f) => f.rule)).toEqual(expect.arrayContaining(['network-attempt', 'static-thing']));
    expect(after.traces.install?.stats.lines).toBe(2);
    expect(['suspicious', 'malicious']).toContain(after.verdict);
    expect(after.score).toBeGreaterThanOrEqual(15);
    expect(after.scoreReasons[0]!.points).toBeGreaterThan(2);
    expect(after.result).toBe('build-fail');
    expect(before.findings).toHaveLength(1); // the input is not changed
  });

  it('replaces static findings with a fresh scan, and keeps the findings of phases with no raw trace', () => {
    const r = storedReport();
    r.findings.push({ rule: 'dns-lookup', severity: 'high', phase: 'import', title: 'import looks up x.invalid', evidence: [] });
    const after = rescoreReport(r, new Map(), { files: 3, bytes: 100, truncated: false, findings: [] });
    expect(after.findings.map((f) => f.rule)).toEqual(['dns-lookup']);
    expect(after).toMatchObject({ verdict: 'suspicious', score: 40, static: { files: 3, bytes: 100, truncated: false } });
  });

  it('gives a malicious report the observation for the index', () => {
    const r = storedReport();
    r.findings.push({ rule: 'x', severity: 'critical', phase: 'install', title: 'install runs a dropped binary', evidence: [] });
    const after = rescoreReport(r, new Map());
    expect(after.verdict).toBe('malicious');
    expect(after.observation).toMatchObject({ kind: 'is_malware', inspector_url: 'https://inspector.pypi.io/project/evil/1.0/' });
    expect(after.observation!.summary).toContain('install runs a dropped binary');
  });
});

describe('pyti rescore on a report directory', () => {
  it('re-judges a stored report whose findings were removed, from its raw traces', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-rescore-'));
    const dist = join(dir, 'in.tar.gz');
    writeFileSync(dist, 'not really a tarball');
    const r = storedReport();
    r.findings = [];
    writeReport(dir, r, raw(), dist);
    expect(readFileSync(join(dir, 'dist', 'evil-1.0.tar.gz'), 'utf8')).toBe('not really a tarball');
    const o = await rescoreDir(dir);
    expect(o.before).toEqual({ verdict: 'failed', score: 0 });
    expect(o.staticRerun).toBe(false); // the copy's sha256 is not the report's
    const stored = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as AuditReport;
    expect(stored.findings.map((f) => f.rule)).toContain('network-attempt');
    expect(stored.verdict).toBe(o.after.verdict);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain(`score <b>${o.after.score}</b>`);

    const lines: string[] = [];
    const errs: string[] = [];
    expect(await rescoreCommand([dir, join(dir, 'missing')], (s) => lines.push(s), (s) => errs.push(s))).toBe(2);
    expect(lines[0]).toContain(`${o.after.verdict} (${o.after.score}) → ${o.after.verdict} (${o.after.score})`);
    expect(lines.at(-1)).toMatch(/^rescored 1 of 2 reports, 0 changed/);
    expect(errs.join('')).toContain('PYTI_REPORT_INVALID');
  });

  it('re-runs the static rules on the kept distribution when it hashes to the report\'s sha256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-rescore-static-'));
    mkdirSync(join(dir, 'src', 'evil-1.0'), { recursive: true });
    writeFileSync(join(dir, 'src', 'evil-1.0', 'setup.py'), 'import base64\nexec(base64.b64decode("cHJpbnQoMSk="))\n');
    writeFileSync(join(dir, 'src', 'evil-1.0', 'PKG-INFO'), 'Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n');
    const dist = join(dir, 'evil-1.0.tar.gz');
    await tar.c({ gzip: true, file: dist, cwd: join(dir, 'src') }, ['evil-1.0']);
    const r = storedReport();
    r.distribution.sha256 = createHash('sha256').update(readFileSync(dist)).digest('hex');
    const out = join(dir, 'report');
    writeReport(out, r, raw(), dist);
    const o = await rescoreDir(out);
    expect(o.staticRerun).toBe(true);
    expect(o.report.static).toMatchObject({ files: expect.any(Number), truncated: false });
    expect(o.report.static!.files).toBeGreaterThanOrEqual(1);
    expect(o.report.findings.some((f) => f.rule === 'static-thing')).toBe(false); // the stored static findings were replaced
    expect(o.report.findings.filter((f) => f.phase === 'static').every((f) => (f.sources ?? []).every((x) => x.file.startsWith('evil-1.0/')))).toBe(true);
  });
});
