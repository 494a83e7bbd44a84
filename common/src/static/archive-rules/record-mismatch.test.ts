import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawZip } from '../../input/hostile-archive-kit.js';
import { judge } from '../../findings/judge.js';
import { ARCHIVE_RULES, STATIC_RULES, scanDistribution } from '../index.js';
import { recordMismatchFindings } from './record-mismatch.js';
import { parseRecord } from './record-csv.js';

const DI = 'rec-1.0.dist-info';
const digest = (data: string, algo = 'sha256'): string => createHash(algo).update(data).digest('base64url');
const files: Record<string, string> = {
  'rec/__init__.py': 'VALUE = 1\n',
  'rec/a,b.py': 'x = 2\n',
  [`${DI}/METADATA`]: 'Metadata-Version: 2.1\nName: rec\nVersion: 1.0\n',
  [`${DI}/WHEEL`]: 'Wheel-Version: 1.0\n',
};
const row = (path: string, data: string, algo = 'sha256'): string => `${path.includes(',') ? `"${path}"` : path},${algo}=${digest(data, algo)},${Buffer.byteLength(data)}`;
const honestRecord = (): string => [...Object.entries(files).map(([p, d]) => row(p, d)), `${DI}/RECORD,,`].join('\n') + '\n';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'pyti-record-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function wheel(name: string, contents: Record<string, string>, record?: string): string {
  const entries = Object.entries(contents).map(([n, d]) => ({ name: n, data: d }));
  if (record !== undefined) entries.push({ name: `${DI}/RECORD`, data: record });
  const path = join(dir, name);
  writeFileSync(path, rawZip(entries));
  return path;
}

describe('record-mismatch', () => {
  it('is declared like every rule, its id distinct from the source rules\'', () => {
    for (const r of ARCHIVE_RULES) {
      expect(r).toMatchObject({ id: expect.stringMatching(/^[a-z][a-z0-9-]+$/), severity: 'medium' });
      expect(r.description.length + r.technique.length).toBeGreaterThan(40);
      expect(STATIC_RULES.map((s) => s.id)).not.toContain(r.id);
    }
  });

  it('an honest wheel (quoted paths, sha256 and sha512 rows, a hex digest) has no finding', async () => {
    const hex = `${DI}/WHEEL,sha256=${createHash('sha256').update(files[`${DI}/WHEEL`]!).digest('hex')},${files[`${DI}/WHEEL`]!.length}`;
    const record = honestRecord().replace(row('rec/__init__.py', files['rec/__init__.py']!), row('rec/__init__.py', files['rec/__init__.py']!, 'sha512'))
      .replace(row(`${DI}/WHEEL`, files[`${DI}/WHEEL`]!), hex); // a hex digest (gmsh's wheels) is the same check
    expect(parseRecord(record).find((r) => r.path === 'rec/a,b.py')).toMatchObject({ size: '6', line: 2 });
    expect(await recordMismatchFindings(wheel('rec-1.0-py3-none-any.whl', files, record))).toEqual([]);
  });

  it('a file swapped after the build is a medium static finding citing RECORD\'s line; the audit is suspicious', async () => {
    const path = wheel('swapped-1.0-py3-none-any.whl', { ...files, 'rec/__init__.py': 'import os; os.system("id")\n' }, honestRecord());
    const [f] = await recordMismatchFindings(path);
    expect(f).toMatchObject({ rule: 'record-mismatch', severity: 'medium', phase: 'static', title: 'the wheel does not match its RECORD: 1 file differs' });
    expect(f!.sources).toEqual([{ file: `${DI}/RECORD`, line: 1, excerpt: expect.stringMatching(/^rec\/__init__\.py: sha256 differs from RECORD/) }]);
    const scan = await scanDistribution(path);
    expect(scan.findings.map((x) => x.rule)).toContain('record-mismatch');
    expect(judge(scan.findings, 'pass').verdict).toBe('suspicious');
  });

  it('a file the RECORD does not list, a listed file the wheel lacks, a wrong size, a weak hash', async () => {
    const record = honestRecord()
      .replace(row(`${DI}/WHEEL`, files[`${DI}/WHEEL`]!), `${DI}/WHEEL,sha256=${digest(files[`${DI}/WHEEL`]!)},999`)
      .replace(row('rec/a,b.py', files['rec/a,b.py']!), `"rec/a,b.py",md5=${digest(files['rec/a,b.py']!, 'md5')},6`)
      + 'rec/gone.py,sha256=AAAA,1\n';
    const [f] = await recordMismatchFindings(wheel('odd-1.0-py3-none-any.whl', { ...files, 'rec/_hidden.so': 'ELF' }, record));
    expect(f!.title).toBe('the wheel does not match its RECORD: 2 files differ, 1 not listed, 1 listed but absent');
    const excerpts = f!.sources!.map((s) => s.excerpt);
    expect(excerpts).toEqual(expect.arrayContaining([
      expect.stringMatching(/^rec\/_hidden\.so: not listed in RECORD/),
      expect.stringMatching(/^rec\/gone\.py: listed in RECORD but not in the wheel/),
      expect.stringMatching(/WHEEL: size 19 differs from RECORD's 999/),
      expect.stringMatching(/a,b\.py: RECORD's hash algorithm "md5" is not sha256 or stronger/),
    ]));
  });

  it('a wheel without RECORD is a finding; an sdist or a zip sdist is not checked', async () => {
    expect((await recordMismatchFindings(wheel('norec-1.0-py3-none-any.whl', files)))[0]!.title).toBe(`the wheel has no ${DI}/RECORD`);
    const zsd = join(dir, 'zsd-1.0.zip');
    writeFileSync(zsd, rawZip([{ name: 'zsd-1.0/PKG-INFO', data: 'Name: zsd\nVersion: 1.0\n' }]));
    expect(await recordMismatchFindings(zsd)).toEqual([]);
  });
});
