// The exactly-once check: every published file the master's policy audits (a release's sdist and its
// pure-Python wheel: master/src/feeds/release-files.ts selectFilesToAudit) has exactly one audit, done;
// no file has two; no audit names a file that was not published or that the policy skips (platform
// wheels). A file whose release was yanked or removed, that was removed, or whose project was removed
// may have been cancelled or never submitted (the change log said so before the master read it): at
// most one audit, done or cancelled.

/** Whether the master's default policy audits this file of the schedule. */
export function auditedByPolicy(f) {
  return f.kind === 'sdist' ? f.filename.endsWith('.tar.gz') : f.tag === 'py3-none-any';
}

/**
 * @param {Map<string, {filename: string, kind: string, tag: string|null, disturbed: boolean}>} published
 * @param {{filename: string|null, state: string}[]} audits every audit the master has
 */
export function accountFor(published, audits) {
  const byFile = new Map();
  for (const a of audits) {
    const k = a.filename ?? `(no filename: ${a.project} ${a.version})`;
    byFile.set(k, [...(byFile.get(k) ?? []), a]);
  }
  const r = { published: published.size, auditable: 0, skippedByPolicy: 0, disturbed: 0, audits: audits.length, exactlyOnce: 0, missing: [], doubled: [], unexpected: [], wrongState: [] };
  for (const f of published.values()) {
    const got = byFile.get(f.filename) ?? [];
    if (!auditedByPolicy(f)) {
      r.skippedByPolicy++;
      if (got.length) r.unexpected.push(f.filename);
      continue;
    }
    r.auditable++;
    if (got.length > 1) { r.doubled.push(`${f.filename} ×${got.length}`); continue; }
    if (f.disturbed) {
      r.disturbed++;
      if (got.length === 1 && !['done', 'cancelled'].includes(got[0].state)) r.wrongState.push(`${f.filename}: ${got[0].state}`);
      continue;
    }
    if (got.length === 0) { r.missing.push(f.filename); continue; }
    if (got[0].state !== 'done') { r.wrongState.push(`${f.filename}: ${got[0].state}`); continue; }
    r.exactlyOnce++;
  }
  for (const k of byFile.keys()) if (!published.has(k)) r.unexpected.push(k);
  r.ok = r.missing.length === 0 && r.doubled.length === 0 && r.unexpected.length === 0 && r.wrongState.length === 0;
  return r;
}
