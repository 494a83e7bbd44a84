/**
 * record-mismatch: a wheel's files do not match its RECORD. Every file of a wheel must be listed in
 * `*.dist-info/RECORD` with its sha256 (or stronger) digest and size; installers trust the list
 * (pip checks none of it), so a file changed after the wheel was built, or slipped in unlisted,
 * goes unnoticed by every tool a user has. Checked on the host, reading the wheel as data.
 *
 * Bounded like validateDist: the wheel was validated first (sizes, counts, ratio); the check stops
 * after DEFAULT_DIST_LIMITS.maxMillis and cites at most MAX_SOURCES files.
 */
import { createHash } from 'node:crypto';
import yauzl from 'yauzl';
import type { Finding, RuleInfo, SourceRef } from '../../findings/finding.js';
import { DEFAULT_DIST_LIMITS } from '../../input/dist-limits.js';
import { parseRecord, type RecordRow } from './record-csv.js';

export const recordMismatchRule: RuleInfo = {
  id: 'record-mismatch',
  description: 'a wheel file\'s sha256 or size differs from its RECORD entry, a file is missing from RECORD, or RECORD lists a file the wheel lacks',
  severity: 'medium',
  technique: 'a wheel edited after it was built (a file swapped or added to a published wheel, e.g. a tampered mirror or a re-uploaded artefact): installers do not verify RECORD, so only this check sees it',
};

/** At most this many files are cited. */
const MAX_CITED = 20;
const ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);
const RECORD = /^[^/]+\.dist-info\/RECORD$/;
/** Files a RECORD may leave unhashed or unlisted (the RECORD and its signatures). */
const UNHASHED = /^[^/]+\.dist-info\/RECORD(\.jws|\.p7s)?$/;

interface Member {
  name: string;
  size: number;
  digests: Map<string, string>;
}

/**
 * Reads the files of the zip at `path` that `read` accepts: names, sizes and digests by `algorithms`
 * (urlsafe base64 without padding), and the text of the first top-level `*.dist-info/RECORD`.
 */
function readMembers(path: string, deadline: number, algorithms: string[], read: (name: string) => boolean): Promise<{ members: Member[]; record?: { name: string; text: string } }> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, validateEntrySizes: true, decodeStrings: true, strictFileNames: false }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('not a zip'));
      const members: Member[] = [];
      let record: { name: string; text: string } | undefined;
      let finished = false;
      const done = (e?: Error): void => {
        if (finished) return;
        finished = true;
        try {
          zip.close();
        } catch {
          /* already closed */
        }
        if (e) reject(e);
        else resolve({ members, record });
      };
      zip.on('error', done);
      zip.on('end', () => done());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/') || !read(entry.fileName)) return zip.readEntry();
        if (Date.now() > deadline) return done(new Error('time limit'));
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return done(e2 ?? new Error('unreadable member'));
          const hashes = algorithms.map((a) => [a, createHash(a)] as const);
          const isRecord = RECORD.test(entry.fileName);
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (d: Buffer) => {
            size += d.length;
            for (const [, h] of hashes) h.update(d);
            if (isRecord && size <= 64 * 1024 * 1024) chunks.push(d);
          });
          stream.on('error', done);
          stream.on('end', () => {
            members.push({ name: entry.fileName, size, digests: new Map(hashes.map(([a, h]) => [a, h.digest('base64url')])) });
            if (isRecord && !record) record = { name: entry.fileName, text: Buffer.concat(chunks).toString('utf8') };
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Why a wheel member disagrees with its RECORD row, or null. */
function rowProblem(m: Member, row: RecordRow): string | null {
  if (UNHASHED.test(m.name) && !row.hash) return null;
  if (!row.hash) return 'RECORD gives no hash';
  const eq = row.hash.indexOf('=');
  const algo = eq > 0 ? row.hash.slice(0, eq) : '';
  if (!ALGORITHMS.has(algo)) return `RECORD's hash algorithm ${JSON.stringify(algo.slice(0, 20))} is not sha256 or stronger`;
  const want = row.hash.slice(eq + 1).replace(/=+$/, '');
  const have = m.digests.get(algo) ?? '';
  // Some build tools write hex digests instead of the specified urlsafe base64: the same check.
  if (want !== have && want.toLowerCase() !== Buffer.from(have, 'base64url').toString('hex')) return `${algo} differs from RECORD (RECORD ${want.slice(0, 64)}, file ${m.digests.get(algo)})`;
  if (row.size !== '' && row.size !== String(m.size)) return `size ${m.size} differs from RECORD's ${row.size.slice(0, 20)}`;
  return null;
}

/**
 * The record-mismatch finding of the wheel at `path` (phase `static`, sources citing RECORD's lines
 * or the unlisted files), or none. Not a wheel (no top-level `*.dist-info/`), unreadable, or over
 * the time limit: no finding (validation has refused what is corrupt).
 */
export async function recordMismatchFindings(path: string): Promise<Finding[]> {
  const deadline = Date.now() + DEFAULT_DIST_LIMITS.maxMillis;
  const names: string[] = [];
  let read;
  try {
    // First the RECORD alone (and every name), to hash the files only by the algorithms it uses.
    const first = await readMembers(path, deadline, [], (name) => (names.push(name), RECORD.test(name)));
    const algorithms = new Set(['sha256']);
    for (const row of first.record ? parseRecord(first.record.text) : []) {
      const algo = row.hash.slice(0, Math.max(0, row.hash.indexOf('=')));
      if (ALGORITHMS.has(algo)) algorithms.add(algo);
    }
    read = first.record ? await readMembers(path, deadline, [...algorithms], () => true) : first;
  } catch {
    return [];
  }
  const { members, record } = read;
  const distInfo = names.map((n) => /^([^/]+\.dist-info)\//.exec(n)?.[1]).find(Boolean);
  if (!distInfo) return [];
  const sources: SourceRef[] = [];
  let differ = 0;
  let unlisted = 0;
  let missing = 0;
  const cite = (s: SourceRef): void => {
    if (sources.length < MAX_CITED) sources.push({ ...s, excerpt: s.excerpt.slice(0, 300) });
  };
  if (!record) {
    return [{ rule: recordMismatchRule.id, severity: 'medium', phase: 'static', title: `the wheel has no ${distInfo}/RECORD`, evidence: [], sources: [] }];
  }
  const rows = new Map<string, RecordRow>();
  for (const row of parseRecord(record.text)) rows.set(row.path, row);
  const present = new Set<string>();
  for (const m of members) {
    present.add(m.name);
    const row = rows.get(m.name);
    if (!row) {
      if (/^[^/]+\.dist-info\/RECORD\.(jws|p7s)$/.test(m.name)) continue;
      unlisted++;
      cite({ file: m.name, line: 1, excerpt: `${m.name}: not listed in RECORD` });
      continue;
    }
    const why = rowProblem(m, row);
    if (why) {
      differ++;
      cite({ file: record.name, line: row.line, excerpt: `${m.name}: ${why}` });
    }
  }
  for (const row of rows.values()) {
    if (present.has(row.path)) continue;
    missing++;
    cite({ file: record.name, line: row.line, excerpt: `${row.path}: listed in RECORD but not in the wheel` });
  }
  if (!differ && !unlisted && !missing) return [];
  const parts = [differ && `${differ} file${differ > 1 ? 's differ' : ' differs'}`, unlisted && `${unlisted} not listed`, missing && `${missing} listed but absent`].filter(Boolean);
  return [{ rule: recordMismatchRule.id, severity: 'medium', phase: 'static', title: `the wheel does not match its RECORD: ${parts.join(', ')}`, evidence: [], sources }];
}
