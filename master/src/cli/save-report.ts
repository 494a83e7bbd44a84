/**
 * `pyti report ID --out DIR`: the report's JSON and HTML and every raw artifact, written under DIR.
 * The master is trusted less than the local disk: artifact names must be plain relative paths (no
 * `..`, no absolute paths, no backslashes), may not replace report.json/report.html, are written
 * without following symbolic links, and must hash to the sha256 the master lists for them.
 * Artifacts the master marks as pruned by its retention policy are not asked for (the master would
 * answer 410): the report and what is still stored are saved, and the pruned ones are returned apart.
 */
import { closeSync, constants, createWriteStream, lstatSync, mkdirSync, openSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { checkArtifactName, type UserClient } from '../client/user-client.js';
import type { AuditDetail } from '../user-api.js';

const RESERVED = new Set(['report.json', 'report.html']);

/** Opens `path` for writing (created or truncated) without following a symbolic link there. */
function openNoFollow(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
}

/** Creates the directories of `rel` under `root`, refusing any that is (or resolves through) a link out of it. */
function makeParents(root: string, rel: string): string {
  const dest = resolve(root, rel);
  if (!dest.startsWith(root + sep)) throw new PytiError('PYTI_INPUT_UNSAFE_PATH', `artifact ${JSON.stringify(rel)} would land outside ${root}`);
  let dir = root;
  for (const seg of relative(root, dirname(dest)).split(sep).filter(Boolean)) {
    dir = join(dir, seg);
    mkdirSync(dir, { recursive: true });
    if (!lstatSync(dir).isDirectory()) throw new PytiError('PYTI_INPUT_UNSAFE_PATH', `${dir} is not a directory (a link?): not writing artifact ${JSON.stringify(rel)} through it`);
  }
  return dest;
}

/** What `saveReport` wrote, and the artifacts it skipped because the retention policy pruned them. */
export interface SavedReport { written: string[]; pruned: string[] }

/** Writes everything still stored; resolves to the files written (relative to `outDir`) and the pruned ones skipped. */
export async function saveReport(client: UserClient, d: AuditDetail, report: unknown, reportHtml: string, outDir: string): Promise<SavedReport> {
  mkdirSync(outDir, { recursive: true });
  const root = realpathSync(outDir);
  const names = d.artifacts.map((a) => {
    checkArtifactName(a.name);
    if (RESERVED.has(a.name)) throw new PytiError('PYTI_INPUT_UNSAFE_PATH', `artifact ${JSON.stringify(a.name)} would replace the report`);
    return a.name;
  });
  if (new Set(names).size !== names.length) throw new PytiError('PYTI_INPUT_UNSAFE_PATH', 'the master lists an artifact name twice');
  const written: string[] = [];
  const pruned: string[] = [];
  for (const [name, text] of [['report.json', `${JSON.stringify(report, null, 1)}\n`], ['report.html', reportHtml]] as const) {
    const fd = openNoFollow(join(root, name));
    try { writeFileSync(fd, text); } finally { closeSync(fd); }
    written.push(name);
  }
  for (const a of d.artifacts) {
    if (a.pruned) {
      pruned.push(a.name);
      continue;
    }
    const dest = makeParents(root, a.name);
    const out = createWriteStream(dest, { fd: openNoFollow(dest) });
    const got = await client.saveArtifact(d.id, a.name, out);
    if (got.sha256 !== a.sha256 || got.sizeBytes !== a.sizeBytes) {
      rmSync(dest, { force: true });
      throw new PytiError('PYTI_BLOB_MISMATCH', `artifact ${a.name}: got ${got.sizeBytes} bytes with sha256 ${got.sha256}, the master lists ${a.sizeBytes} bytes with ${a.sha256}`);
    }
    written.push(a.name);
  }
  return { written, pruned };
}
