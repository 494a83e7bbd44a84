// Benchmark: one 50,000-entry page of the change log (PyPI's page size) turned into audits by the
// master's ingest (master/src/subscriptions/change-ingest.ts) on its database (SQLite, WAL, a file in a
// temp dir), with three subscriptions: every upload, 1,000 listed projects, and a name pattern.
// The mix of actions is PyPI's rough proportions (new releases and their files, new projects, owner
// changes and other actions that are ignored, a few yanks and removals). Release files are resolved
// from an in-memory map, not over HTTP: this measures the ingest, not the index. Prints the time to
// read the releases and the time of the transaction that submits the audits and moves the cursor.
// Usage: node bench/changelog-ingest.mjs [entries]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeIngest, FeedCursor, JobQueue, SubscriptionStore, checkCreate, openDatabase } from '../master/dist/index.js';
import { selectFilesToAudit } from '../master/dist/feeds/release-files.js';
import { MemoryIndex, changeEvent } from '../master/dist/subscriptions/subscription-test-kit.js';

const N = Number(process.argv[2] ?? 50_000);
const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-ingest-'));
try {
  // A deterministic pseudo-random mix.
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const index = new MemoryIndex();
  const events = [];
  const releases = []; // [name, version] published so far
  let serial = 10_000_000;
  let projects = 0;
  while (events.length < N) {
    const r = rnd();
    if (r < 0.45 || releases.length === 0) { // a new release: new release + sdist + 1-3 wheels
      const newProject = rnd() < 0.15 || projects < 50;
      const name = newProject ? `${rnd() < 0.02 ? 'django-' : 'pkg-'}${projects++}` : releases[Math.floor(rnd() * releases.length)][0];
      const version = `${Math.floor(rnd() * 10)}.${events.length}`;
      const files = [`${name}-${version}.tar.gz`, `${name}-${version}-py3-none-any.whl`];
      for (let w = Math.floor(rnd() * 3); w > 0; w--) files.push(`${name}-${version}-cp31${w}-cp31${w}-manylinux_2_17_x86_64.whl`);
      index.add(name, version, files, serial);
      if (newProject) events.push(changeEvent(++serial, name, null, 'create-project'));
      events.push(changeEvent(++serial, name, version, 'new-release'));
      for (const f of files) events.push(changeEvent(++serial, name, version, 'add-file', f));
      releases.push([name, version]);
    } else if (r < 0.93) {
      events.push({ ...changeEvent(++serial, releases[Math.floor(rnd() * releases.length)][0], null, 'other'), action: 'add Owner someone' });
    } else {
      const [name, version] = releases[Math.floor(rnd() * releases.length)];
      const kind = ['yank-release', 'remove-file', 'remove-release', 'unyank-release', 'remove-project'][Math.floor(rnd() * 5)];
      events.push(changeEvent(++serial, name, kind === 'remove-project' ? null : version, kind, kind === 'remove-file' ? `${name}-${version}.tar.gz` : undefined));
    }
  }
  events.length = N;

  const db = openDatabase(join(dir, 'master.db'));
  const queue = new JobQueue(db, { leaseMs: 60_000, maxWaitMs: 0, maxAttempts: 3, defaultBackend: 'bwrap', sweepIntervalMs: 0 });
  const clock = { now: () => Date.now() };
  const store = new SubscriptionStore(db, queue, clock);
  const cursor = new FeedCursor(db, 'https://pypi.org', clock);
  cursor.startAt(10_000_000);
  store.create(checkCreate({ name: 'everything', kind: 'all', priority: -10, backlog: 1_000_000 }));
  store.create(checkCreate({ name: 'top1000', kind: 'projects', projects: Array.from({ length: 1000 }, (_, i) => `pkg-${i * 3}`), priority: 5 }));
  store.create(checkCreate({ name: 'django', kind: 'pattern', pattern: 'django-*', backend: 'qemu' }));
  store.create(checkCreate({ name: 'fresh', kind: 'new-projects' }));

  let resolveMs = 0;
  const resolve = async (name, version, minSerial) => {
    const t = process.hrtime.bigint();
    try { return await index.resolve(name, version, minSerial); } finally { resolveMs += Number(process.hrtime.bigint() - t) / 1e6; }
  };
  const ingest = new ChangeIngest({ db, queue, cursor, clock, resolve, select: (f) => selectFilesToAudit(f) });
  const t0 = process.hrtime.bigint();
  const r = await ingest.ingest(events, events[events.length - 1].serial);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const kinds = {};
  for (const e of events) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  console.log(`change-log ingest: ${N} entries (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  console.log(`  subscriptions: every upload, 1000 projects, pattern django-*, new projects; ${index.calls.length} releases read from memory`);
  console.log(`  ${r.submitted} audits submitted, ${r.cancelled} cancelled (yanked or removed), ${r.ignored} entries ignored; cursor ${r.cursor}`);
  console.log(`  ${ms.toFixed(0)} ms in all (${(N / (ms / 1000)).toFixed(0)} entries/s), of which reading releases ${resolveMs.toFixed(0)} ms (in memory, summed over concurrent reads)`);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
