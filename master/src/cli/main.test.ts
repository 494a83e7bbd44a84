// The CLI against a scripted stand-in for the master (the real master: test/src/master-cli.test.ts).
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { AuditReport } from '@pyti/common';
import type { AuditDetail } from '../user-api.js';
import { main, type CliIO } from './main.js';

function io(env: Record<string, string | undefined> = {}): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, env, out: (s: string) => (o.stdout += s), err: (s: string) => (o.stderr += s) };
  return o;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const ESC = '\x1b]0;owned\x07';

function detail(over: Partial<AuditDetail> = {}): AuditDetail {
  return {
    id: 'a1', state: 'done', verdict: 'flagged', result: 'pass', source: 'upload', project: `demo${ESC}`, version: '1.0', filename: 'demo-1.0.tar.gz',
    backend: 'bwrap', priority: 0, attempts: 1, maxAttempts: 3, submittedAt: '2025-01-02T03:04:05.000Z', startedAt: '2025-01-02T03:04:06.000Z',
    finishedAt: '2025-01-02T03:04:16.000Z', slave: 'slave-a', progress: null, findings: 1, error: null,
    artifacts: [{ name: 'raw/install/strace.log', sizeBytes: 5, sha256: sha('trace'), url: '/api/v1/audits/a1/artifacts/raw/install/strace.log' }],
    prefetch: null, events: [], ...over,
  };
}
const report = {
  schemaVersion: 1, tool: { name: 'pyti', version: '0.1.0' },
  distribution: { filename: 'demo-1.0.tar.gz', name: 'demo', version: '1.0', kind: 'sdist', sha256: 'ab'.repeat(32), sizeBytes: 10, requiresDist: [] },
  backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' }, result: 'pass', verdict: 'flagged', tasks: [], traces: {},
  findings: [{ rule: 'suspicious-spawn', severity: 'high', phase: 'import', title: `import spawns curl${ESC}`, evidence: [] }],
  timings: { startedAt: '2025-01-02T03:04:06.000Z', totalMs: 10000 }, rawFiles: [],
} satisfies AuditReport;

let audits: Record<string, AuditDetail>;
let artifactBody: Record<string, string>;
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const server = createServer((req, res) => {
    const json = (status: number, v: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v)); };
    if (req.headers.authorization !== 'Bearer good-token') return json(401, { error: { code: 'PYTI_AUTH', message: 'bad token' } });
    const m = /^\/api\/v1\/audits(?:\/([^/?]+)(\/.*)?)?(?:\?.*)?$/.exec(req.url!);
    if (!m) return json(404, { error: { code: 'PYTI_JOB_NOT_FOUND', message: 'no route' } });
    const [, id, rest] = m;
    if (!id) return json(200, { audits: Object.values(audits) });
    const a = audits[decodeURIComponent(id)];
    if (!a) return json(404, { error: { code: 'PYTI_JOB_NOT_FOUND', message: `no audit ${id}` } });
    if (!rest) return json(200, a);
    if (rest === '/report.json') return json(200, report);
    if (rest === '/report.html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>report</p>');
    const art = rest.replace(/^\/artifacts\//, '');
    if (artifactBody[art] !== undefined) return void res.writeHead(200).end(artifactBody[art]);
    return json(404, { error: { code: 'PYTI_JOB_NOT_FOUND', message: 'no artifact' } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((r) => server.close(() => r()));
});
afterAll(() => close());
beforeEach(() => {
  audits = { a1: detail(), q1: detail({ id: 'q1', state: 'running', verdict: null, result: null, findings: null, finishedAt: null, progress: { phase: 'auditing', task: 'test', tasksDone: 3, log: null } }) };
  artifactBody = { 'raw/install/strace.log': 'trace' };
});

/** A port nothing listens on (fetch refuses "bad ports" such as 1 outright, before connecting). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const conn = (): string[] => ['--master', url, '--token', 'good-token'];

describe('pyti submit|status|report (CLI)', () => {
  it('answers usage errors with exit 64 and the usage', async () => {
    for (const argv of [['submit'], ['submit', 'a==', ...conn()], ['submit', 'x.whl', '--priority', '500'], ['submit', 'x.whl', '--nope'],
      ['status', '--state', 'sleeping'], ['status', 'a', 'b'], ['report'], ['report', 'a1', '--json', '--html'], ['frobnicate'], ['submit', 'x.whl', '--filename', 'y']]) {
      const o = io();
      expect([argv, await main(argv, o)]).toEqual([argv, 64]);
      expect(o.stderr).toContain('pyti: error PYTI_USAGE:');
      expect(o.stderr).toContain('usage:');
    }
  });

  it('needs a token to submit, and a URL that is one', async () => {
    const o = io();
    expect(await main(['submit', 'demo==1.0'], o)).toBe(2);
    expect(o.stderr).toContain('PYTI_CONFIG_INVALID: no token');
    const p = io({ PYTI_MASTER_URL: 'ftp://nowhere', PYTI_TOKEN: 't-12345678' });
    expect(await main(['status'], p)).toBe(2);
    expect(p.stderr).toContain('PYTI_CONFIG_INVALID');
  });

  it('lists audits as a table, without the escape sequences a package put in its name', async () => {
    const o = io({ PYTI_MASTER_URL: url, PYTI_TOKEN: 'good-token' });
    expect(await main(['status'], o)).toBe(0);
    expect(o.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+VERDICT/);
    expect(o.stdout).toContain('auditing');
    expect(o.stdout).not.toContain('\x1b');
    const d = io();
    expect(await main(['status', 'a1', ...conn()], d)).toBe(0);
    expect(d.stdout).toContain(`page       ${url}/audits/a1`);
    const j = io();
    expect(await main(['status', '--json', ...conn()], j)).toBe(0);
    expect(JSON.parse(j.stdout)).toHaveLength(2);
  });

  it('refuses a bad token with exit 2 and PYTI_AUTH, an unknown audit with PYTI_JOB_NOT_FOUND', async () => {
    const o = io();
    expect(await main(['status', '--master', url, '--token', 'bad-token'], o)).toBe(2);
    expect(o.stderr).toContain('pyti: error PYTI_AUTH:');
    const n = io();
    expect(await main(['report', 'nope', ...conn()], n)).toBe(2);
    expect(n.stderr).toContain('PYTI_JOB_NOT_FOUND');
  });

  it('says so when the report is not ready', async () => {
    const o = io();
    expect(await main(['report', 'q1', ...conn()], o)).toBe(2);
    expect(o.stderr).toContain('pyti: error PYTI_REPORT_NOT_READY: audit q1 is running');
  });

  it('prints the report and saves it with its artifacts, exiting like pyti audit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-report-'));
    try {
      const o = io();
      expect(await main(['report', 'a1', '--out', join(dir, 'out'), ...conn()], o)).toBe(3);
      expect(o.stdout).toContain('FLAGGED  demo 1.0');
      expect(o.stdout).not.toContain('\x1b');
      expect(readFileSync(join(dir, 'out', 'raw/install/strace.log'), 'utf8')).toBe('trace');
      expect(JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8'))).toEqual(report);
      expect(readFileSync(join(dir, 'out', 'report.html'), 'utf8')).toContain('<p>report</p>');
      const j = io();
      expect(await main(['report', 'a1', '--json', ...conn()], j)).toBe(3);
      expect(JSON.parse(j.stdout)).toEqual(report);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses artifact names that climb out, links to elsewhere, and bytes that do not match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyti-report-'));
    try {
      for (const name of ['../escape', '/etc/x', 'report.json', 'raw/../../x']) {
        audits.a1 = detail({ artifacts: [{ name, sizeBytes: 5, sha256: sha('trace'), url: '' }] });
        const o = io();
        expect(await main(['report', 'a1', '--out', join(dir, 'o1'), ...conn()], o)).toBe(2);
        expect(o.stderr).toContain('PYTI_INPUT_UNSAFE_PATH');
      }
      expect(existsSync(join(dir, 'escape'))).toBe(false);
      // A link planted in the output directory is not followed.
      mkdirSync(join(dir, 'o2'));
      mkdirSync(join(dir, 'elsewhere'));
      symlinkSync(join(dir, 'elsewhere'), join(dir, 'o2', 'raw'));
      audits.a1 = detail();
      const l = io();
      expect(await main(['report', 'a1', '--out', join(dir, 'o2'), ...conn()], l)).toBe(2);
      expect(l.stderr).toContain('PYTI_INPUT_UNSAFE_PATH');
      expect(existsSync(join(dir, 'elsewhere', 'install'))).toBe(false);
      // Bytes that do not hash to the listed sha256.
      artifactBody['raw/install/strace.log'] = 'other';
      const m = io();
      expect(await main(['report', 'a1', '--out', join(dir, 'o3'), ...conn()], m)).toBe(2);
      expect(m.stderr).toContain('PYTI_BLOB_MISMATCH');
      expect(existsSync(join(dir, 'o3', 'raw/install/strace.log'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unreachable master as PYTI_MASTER_UNREACHABLE', async () => {
    const o = io();
    expect(await main(['status', '--master', `http://127.0.0.1:${await closedPort()}`], o)).toBe(2);
    expect(o.stderr).toContain('pyti: error PYTI_MASTER_UNREACHABLE:');
    expect(o.stderr).toContain('ECONNREFUSED');
  }, 30_000);
});
