import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { PytiError } from '@pyti/vm-agent';
import { parseReleaseDocument, resolveReleaseFiles, selectFilesToAudit } from './release-files.js';
import { compareVersions, isValidVersion, normalizeName } from './pep.js';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');
const DOC_URL = 'https://pypi.org/pypi/requests-ng/3.0.0/json';

describe('release documents', () => {
  it('reads files with sha256, requires_python and yanked from a yanked release', () => {
    const r = parseReleaseDocument(JSON.parse(fixture('release-yanked.json')), DOC_URL, 'requests_ng', '3.0.0', 23400010);
    expect(r.normalized).toBe('requests-ng');
    expect(r.lastSerial).toBe(23400010);
    // The legacy .zip sdist is listed too (PyTI audits it when a release has no .tar.gz sdist).
    expect(r.files.map((f) => f.filename)).toEqual([
      'requests_ng-3.0.0-cp312-cp312-manylinux_2_17_x86_64.whl',
      'requests_ng-3.0.0-py2.py3-none-any.whl',
      'requests_ng-3.0.0-py3-none-any.whl',
      'requests_ng-3.0.0.tar.gz',
      'requests_ng-3.0.0.zip',
    ]);
    expect(r.files[3]).toEqual({
      filename: 'requests_ng-3.0.0.tar.gz',
      url: 'https://files.pythonhosted.org/packages/ab/cd/ef/requests_ng-3.0.0.tar.gz',
      sha256: '4'.repeat(64),
      packagetype: 'sdist',
      requiresPython: '>=3.9',
      yanked: true,
      yankedReason: 'broken metadata',
      sizeBytes: 12345,
      uploadTime: Date.parse('2024-06-01T12:00:01.123Z'), // upload_time_iso_8601, for the upload-to-verdict latency
    });
  });

  it('selects the sdist and one pure-Python wheel, skipping yanked files unless asked', () => {
    const yanked = parseReleaseDocument(JSON.parse(fixture('release-yanked.json')), DOC_URL, 'requests-ng', '3.0.0', null).files;
    expect(selectFilesToAudit(yanked)).toEqual([]);
    expect(selectFilesToAudit(yanked, { includeYanked: true }).map((f) => f.filename)).toEqual(['requests_ng-3.0.0.tar.gz', 'requests_ng-3.0.0-py3-none-any.whl']);
    const zipOnly = yanked.filter((f) => !f.filename.endsWith('.tar.gz'));
    expect(selectFilesToAudit(zipOnly, { includeYanked: true, pureWheel: false }).map((f) => f.filename)).toEqual(['requests_ng-3.0.0.zip']);
    const ok = parseReleaseDocument(JSON.parse(fixture('release-ok.json')), DOC_URL, 'Flask-Widgets', '0.1.0', null).files;
    expect(selectFilesToAudit(ok).map((f) => f.filename)).toEqual(['flask_widgets-0.1.0.tar.gz', 'flask_widgets-0.1.0-py3-none-any.whl']);
    expect(selectFilesToAudit(ok, { sdist: false }).map((f) => f.filename)).toEqual(['flask_widgets-0.1.0-py3-none-any.whl']);
    expect(selectFilesToAudit(ok, { pureWheel: false }).map((f) => f.filename)).toEqual(['flask_widgets-0.1.0.tar.gz']);
    const onlyUniversal = ok.filter((f) => !f.filename.endsWith('-py3-none-any.whl'));
    expect(selectFilesToAudit(onlyUniversal).map((f) => f.filename)).toEqual(['flask_widgets-0.1.0.tar.gz', 'flask_widgets-0.1.0-py2.py3-none-any.whl']);
  });

  it('refuses malformed documents and documents of another project', () => {
    const doc = JSON.parse(fixture('release-ok.json'));
    const codeOf = (d: unknown, name = 'Flask-Widgets'): string | undefined => {
      try {
        parseReleaseDocument(d, DOC_URL, name, '0.1.0', null);
      } catch (e) {
        return (e as PytiError).code;
      }
      return undefined;
    };
    expect(codeOf(doc)).toBeUndefined();
    expect(codeOf(doc, 'other-project')).toBe('PYTI_INDEX_MISMATCH');
    expect(codeOf({ ...doc, urls: 'x' })).toBe('PYTI_INDEX_MALFORMED');
    expect(codeOf({ ...doc, urls: [{ ...doc.urls[0], yanked: 'no' }] })).toBe('PYTI_INDEX_MALFORMED');
    expect(codeOf({ ...doc, urls: [{ ...doc.urls[0], requires_python: 3 }] })).toBe('PYTI_INDEX_MALFORMED');
    expect(codeOf({ ...doc, urls: [{ ...doc.urls[0], digests: {} }] })).toBe('PYTI_INDEX_MALFORMED');
  });
});

describe('resolveReleaseFiles over HTTP', () => {
  let server: Server;
  let base: string;
  let serials: Array<number | null>;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/pypi/flask-widgets/0.1.0/json') {
        const s = serials.length > 1 ? serials.shift()! : serials[0]!;
        res.writeHead(200, { 'content-type': 'application/json', ...(s === null ? {} : { 'x-pypi-last-serial': String(s) }) });
        res.end(fixture('release-ok.json'));
      } else {
        res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (hits = 0));

  const noWait = { sleep: async (): Promise<void> => undefined };

  it('retries a stale answer (X-PyPI-Last-Serial below the event) and then takes the fresh one', async () => {
    serials = [100, 100, 120];
    const r = await resolveReleaseFiles(base, 'Flask_Widgets', '0.1.0', { minSerial: 110, retries: 3, ...noWait });
    expect(r.lastSerial).toBe(120);
    expect(r.files).toHaveLength(3);
    expect(hits).toBe(3);
  });

  it('gives up on an answer that stays stale with PYTI_FEED_STALE', async () => {
    serials = [100];
    const waits: number[] = [];
    let err: unknown;
    await resolveReleaseFiles(base, 'flask-widgets', '0.1.0', { minSerial: 110, retries: 2, sleep: async (ms) => void waits.push(ms), random: () => 1, backoff: { initialMs: 10, maxMs: 1000, factor: 2 } }).catch((e) => (err = e));
    expect((err as PytiError).code).toBe('PYTI_FEED_STALE');
    expect(waits).toEqual([10, 20]);
    expect(hits).toBe(3);
  });

  it('takes an answer without the header as is, and a 404 is PYTI_INDEX_NOT_FOUND', async () => {
    serials = [null];
    expect((await resolveReleaseFiles(base, 'flask-widgets', '0.1.0', { minSerial: 5, ...noWait })).lastSerial).toBeNull();
    let err: unknown;
    await resolveReleaseFiles(base, 'gone', '1.0', { ...noWait }).catch((e) => (err = e));
    expect((err as PytiError).code).toBe('PYTI_INDEX_NOT_FOUND');
    expect(hits).toBe(2);
    // With a serial to meet, a 404 may be a cache that does not know the release yet: retried first.
    hits = 0;
    err = undefined;
    await resolveReleaseFiles(base, 'gone', '1.0', { minSerial: 5, retries: 2, ...noWait }).catch((e) => (err = e));
    expect((err as PytiError).code).toBe('PYTI_INDEX_NOT_FOUND');
    expect(hits).toBe(3);
  });
});

describe('PEP 503 and PEP 440 helpers', () => {
  it('normalizes names and compares versions', () => {
    expect(normalizeName('Zope.Interface__x')).toBe('zope-interface-x');
    expect(isValidVersion('1!2.0.post1.dev3+local.7')).toBe(true);
    expect(isValidVersion('not a version')).toBe(false);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
    expect(compareVersions('1.0rc1', '1.0')).toBe(-1);
    expect(compareVersions('1.10', '1.9')).toBe(1);
    expect(compareVersions('1.0.post1', '1.0')).toBe(1);
    expect(compareVersions('junk', '0.0.1')).toBe(-1);
    expect(compareVersions('b-junk', 'a-junk')).toBe(1);
  });
});
