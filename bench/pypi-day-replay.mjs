// A day of PyPI replayed (issue 14, item 9): publishes a day-shaped stream of uploads, yanks and
// removals (bench/replay/day-stream.mjs: 10 700 files a day, PyPI's mix of sdists and wheels, bursts)
// into the test index at a speed-up, against a real `pyti master` process following the index with one
// subscription to every upload, and N simulated slaves (bench/replay/sim-slaves.mjs: real command-API
// clients that lease, hold each job for a time drawn from measured audits, heartbeat and complete it
// with a valid report). It prints progress while it runs, then, side by side per store: ingest lag
// (upload → audit enqueued), queue depth over time, leases per second, upload-to-verdict p50/p95, and
// the accounting check from the master's API: every published file the policy audits is audited
// exactly once, nothing lost, nothing doubled. Exit 0 when every run's accounting holds, 1 otherwise.
//
// Usage: node bench/pypi-day-replay.mjs [--speedup 20] [--duration 5m] [--start 14:00] [--files N]
//          [--slaves 200] [--concurrency 1] [--audit-scale 1] [--seed 1] [--churn 1]
//          [--database postgres://… | --pg | --stores sqlite,pg] [--poll-ms N] [--rss-poll-ms N] [--drain-timeout 5m]
//          [--pyti PATH] [--json FILE] [--keep] [--echo]
// --pyti runs the master of another checkout (its bin/pyti.mjs), e.g. a branch to compare.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { accountFor, auditedByPolicy } from './replay/accounting.mjs';
import { AUDIT_TIMES_SOURCE, auditSampler, quantile } from './replay/audit-times.mjs';
import { DAY_SECONDS, FILES_PER_DAY, daySchedule, seededRandom } from './replay/day-stream.mjs';
import { writeDist } from './replay/dist-files.mjs';
import { postgresAvailable, startIndex, startMaster, startPostgres } from './replay/processes.mjs';
import { startFleet } from './replay/sim-slaves.mjs';

const USAGE = `usage: node bench/pypi-day-replay.mjs [--speedup 20] [--duration 5m] [--start HH:MM] [--files N]
         [--slaves 200] [--concurrency 1] [--audit-scale 1] [--seed 1] [--churn 1]
         [--database postgres://… | --pg | --stores sqlite,pg] [--poll-ms N] [--rss-poll-ms N] [--drain-timeout 5m]
         [--pyti PATH] [--json FILE] [--keep] [--echo]`;

function usage(msg) {
  process.stderr.write(`pypi-day-replay: ${msg}\n${USAGE}\n`);
  process.exit(64);
}

/** `90`, `90s`, `5m`, `1h` → seconds. */
function seconds(flag, v) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(v ?? '');
  if (!m) usage(`${flag} ${v}: not a duration (90, 90s, 5m, 1h)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] ?? 's'];
}

function positive(flag, v, dflt, { integer = true, max = Infinity } = {}) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) usage(`${flag} ${v}: not a positive ${integer ? 'integer' : 'number'}${max < Infinity ? ` ≤ ${max}` : ''}`);
  return n;
}

const { values: a } = (() => {
  try {
    return parseArgs({
      options: {
        speedup: { type: 'string' }, duration: { type: 'string' }, start: { type: 'string' }, files: { type: 'string' },
        slaves: { type: 'string' }, concurrency: { type: 'string' }, 'audit-scale': { type: 'string' }, seed: { type: 'string' }, churn: { type: 'string' },
        database: { type: 'string' }, pg: { type: 'boolean' }, stores: { type: 'string' }, 'poll-ms': { type: 'string' }, 'rss-poll-ms': { type: 'string' },
        'drain-timeout': { type: 'string' }, pyti: { type: 'string' }, json: { type: 'string' }, keep: { type: 'boolean' }, echo: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(err.message);
  }
})();
if (a.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const speedup = positive('--speedup', a.speedup, 20, { integer: false, max: 1e6 });
const startMatch = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(a.start ?? '00:00') ?? usage(`--start ${a.start}: not HH:MM`);
const startSec = Number(startMatch[1]) * 3600 + Number(startMatch[2]) * 60;
const wallSec = a.duration === undefined ? (DAY_SECONDS - startSec) / speedup : seconds('--duration', a.duration);
const maxFiles = positive('--files', a.files, Infinity);
const nSlaves = positive('--slaves', a.slaves, 200, { max: 5000 });
const concurrency = positive('--concurrency', a.concurrency, 1, { max: 64 });
const auditScale = positive('--audit-scale', a['audit-scale'], 1, { integer: false });
const seed = positive('--seed', a.seed, 1);
const churn = positive('--churn', a.churn, 1, { integer: false, max: 25 });
const drainSec = seconds('--drain-timeout', a['drain-timeout'] ?? '5m');
if (a.database !== undefined && !/^postgres(ql)?:\/\//.test(a.database)) usage('--database: a postgres://… URL (SQLite is the default)');
const masterFlags = [
  ...(a['poll-ms'] !== undefined ? ['--poll-ms', a['poll-ms']] : []),
  ...(a['rss-poll-ms'] !== undefined ? ['--rss-poll-ms', a['rss-poll-ms']] : []),
];
if ([a.database !== undefined, a.pg, a.stores !== undefined].filter(Boolean).length > 1) usage('--database, --pg and --stores: choose one');
const STORES = { sqlite: { label: 'sqlite' }, pg: { label: 'postgres', throwaway: true } };
const stores = a.database !== undefined ? [{ label: 'postgres', url: a.database }]
  : (a.pg ? ['sqlite', 'pg'] : (a.stores ?? 'sqlite').split(',')).map((n) => STORES[n.trim()] ?? usage(`--stores ${a.stores}: a list of sqlite, pg`));

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const fmtS = (ms) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);
const clock = (sec) => {
  const s = Math.floor(((startSec + sec) % DAY_SECONDS));
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
};
const elapsed = (ms) => `${Math.floor(ms / 60000)}m${String(Math.floor((ms % 60000) / 1000)).padStart(2, '0')}s`;

/** The user API of a master. */
function userApi(url, token) {
  return async (method, path, body) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`${url}${path}`, {
          method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        const j = await res.json();
        if (!res.ok) throw Object.assign(new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(j).slice(0, 300)}`), { fatal: true });
        return j;
      } catch (err) {
        if (err.fatal || attempt >= 5) throw err;
        await sleep(300 * 2 ** attempt);
      }
    }
  };
}

/** One replay against one store; resolves to its figures, accounting and raw lists. */
async function replay(store, schedule) {
  const tag = `[${store.label}]`;
  const say = (s) => process.stdout.write(`${tag} ${s}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'pyti-replay-'));
  const dists = join(dir, 'dists');
  mkdirSync(dists);
  let index = null;
  let master = null;
  let pg = null;
  let fleet = null;
  try {
    let databaseUrl = store.url;
    if (store.throwaway) {
      const why = postgresAvailable();
      if (why) return { label: store.label, skipped: why };
      try {
        pg = await startPostgres();
      } catch (err) {
        return { label: store.label, skipped: `PostgreSQL did not start: ${err.message}` };
      }
      databaseUrl = pg.url;
      say(`PostgreSQL started: ${databaseUrl}`);
    }
    // One file from before the replay, so that the master starts at a real serial; never audited.
    const seed = writeDist(dists, { filename: 'replay_seed-1.0-py3-none-any.whl', name: 'replay-seed', version: '1.0', kind: 'wheel', tag: 'py3-none-any' });
    index = await startIndex([seed.path], a.echo);
    const userToken = randomBytes(16).toString('hex');
    const prefix = 'sim';
    const tokens = new Map(Array.from({ length: nSlaves }, (_, i) => [`${prefix}${i}`, randomBytes(12).toString('hex')]));
    try {
      master = await startMaster({
        dataDir: join(dir, 'master'), indexUrl: index.url, userToken,
        slaveTokens: [...tokens].map(([n, t]) => `${n}:${t}`).join(','),
        extra: [...(databaseUrl ? ['--database', databaseUrl] : []), ...masterFlags], echo: a.echo, ...(a.pyti ? { pyti: a.pyti } : {}),
      });
    } catch (err) {
      return { label: store.label, skipped: `the master did not start: ${err.message.split('\n').slice(0, 6).join(' | ')}` };
    }
    const api = userApi(master.url, userToken);
    await api('POST', '/api/v1/subscriptions', { name: 'everything', kind: 'all' });
    for (const until = Date.now() + 60_000; (await api('GET', '/api/v1/feed')).cursor === null;) {
      if (Date.now() > until) throw new Error('the master did not start following the index within 60 s');
      await sleep(200);
    }
    const files = new Map();
    const published = new Map();
    const sampler = auditSampler(seededRandom(seed + 7), auditScale);
    fleet = startFleet({ url: master.url, n: nSlaves, prefix, tokenOf: (n) => tokens.get(n), concurrency, sampler, files });
    for (const until = Date.now() + 60_000; fleet.stats.registered < nSlaves;) {
      if (Date.now() > until) throw new Error(`only ${fleet.stats.registered} of ${nSlaves} simulated slaves registered within 60 s: ${fleet.stats.lastError}`);
      await sleep(100);
    }
    say(`master ${master.url} (${databaseUrl ? 'PostgreSQL' : 'SQLite'}), index ${index.url}, ${nSlaves} simulated slaves registered`);

    // Samples of the queue (the master's counts) and of the feed cursor, while everything runs.
    let lastSerial = 0;
    const samples = [];
    const t0 = Date.now();
    let sampling = true;
    const sampleMs = Math.max(1000, Math.min(5000, (wallSec * 1000) / 60));
    const sampleLoop = (async () => {
      while (sampling) {
        try {
          const [{ counts }, feed] = await Promise.all([api('GET', '/api/v1/audits?limit=1'), api('GET', '/api/v1/feed')]);
          const serialLag = typeof feed.cursor === 'number' && lastSerial > 0 ? Math.max(0, lastSerial - feed.cursor) : 0;
          samples.push({ t: Date.now() - t0, ...counts, serialLag, leases: fleet.stats.leases });
        } catch (err) {
          say(`sample failed: ${err.message}`);
        }
        await sleep(sampleMs);
      }
    })();

    // Progress, about every tenth of the run (5 s at least).
    const progressMs = Math.max(5000, (wallSec * 1000) / 10);
    let nextProgress = t0 + progressMs;
    let atSec = 0;
    let lateMs = 0;
    let publishErrors = 0;
    const progress = () => {
      const s = samples[samples.length - 1];
      const prev = samples.find((x) => x.t >= (s?.t ?? 0) - progressMs) ?? s;
      const lps = s && prev && s.t > prev.t ? ((s.leases - prev.leases) * 1000) / (s.t - prev.t) : 0;
      say(`${elapsed(Date.now() - t0)}  PyPI ${clock(atSec)}  files ${published.size}/${schedule.files}  audits ${s?.total ?? 0}`
        + ` (queued ${s?.queued ?? 0}, running ${s?.running ?? 0}, done ${s?.done ?? 0})  leases/s ${lps.toFixed(2)}  feed lag ${s?.serialLag ?? 0} serials  publisher late ${fmtS(lateMs)}`);
    };
    const admin = async (op, body) => {
      const res = await fetch(`${index.url}/-/${op}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const j = await res.json();
      if (!res.ok) {
        publishErrors++;
        say(`index refused ${op} ${JSON.stringify(body).slice(0, 200)}: ${j.error}`);
        return null;
      }
      lastSerial = Math.max(lastSerial, j.serial);
      return j.serial;
    };
    const disturb = (pred) => { for (const f of published.values()) if (pred(f)) f.disturbed = true; };

    for (const act of schedule.actions) {
      const due = t0 + (act.at * 1000) / speedup;
      const now = Date.now();
      if (due > now) await sleep(due - now);
      else lateMs = Math.max(lateMs, now - due);
      atSec = act.at;
      if (act.op === 'publish') {
        const w = writeDist(dists, act.file);
        files.set(act.file.filename, { ...act.file, sha256: w.sha256, sizeBytes: w.sizeBytes });
        if ((await admin('publish', { path: w.path })) !== null) published.set(act.file.filename, { ...act.file, publishedAt: Date.now(), disturbed: false });
      } else if (act.op === 'yank' || act.op === 'remove-release') {
        disturb((f) => f.name === act.name && f.version === act.version);
        await admin(act.op, { name: act.name, version: act.version, ...(act.op === 'yank' ? { reason: 'replayed yank' } : {}) });
      } else if (act.op === 'remove-file') {
        disturb((f) => f.filename === act.filename);
        await admin('remove-file', { filename: act.filename });
      } else if (act.op === 'remove-project') {
        disturb((f) => f.name === act.name);
        await admin('remove-project', { name: act.name });
      } else {
        await admin('noise', { name: act.name, action: act.action });
      }
      if (Date.now() >= nextProgress) {
        progress();
        nextProgress += progressMs;
      }
    }
    const publishEnd = Date.now();
    say(`published ${published.size} files in ${elapsed(publishEnd - t0)} (PyPI ${clock(0)}–${clock(schedule.spanSec)}); waiting for the master to ingest and the slaves to finish`);

    // Drain: the cursor at the index's last serial and nothing queued or running.
    let drained = false;
    for (const until = Date.now() + drainSec * 1000; Date.now() < until;) {
      const s = samples[samples.length - 1];
      const feed = await api('GET', '/api/v1/feed');
      if (feed.cursor >= lastSerial && s && s.t > publishEnd - t0 && s.queued === 0 && s.running === 0) {
        const { counts } = await api('GET', '/api/v1/audits?limit=1');
        if (counts.queued === 0 && counts.running === 0) { drained = true; break; }
      }
      if (Date.now() >= nextProgress) {
        progress();
        nextProgress += progressMs;
      }
      await sleep(500);
    }
    const drainMs = Date.now() - publishEnd;
    sampling = false;
    await sampleLoop;
    await fleet.stop();
    const stats = fleet.stats;
    fleet = null;
    if (!drained) say(`not drained within ${drainSec} s`);

    // Every audit the master has, and the figures.
    const audits = [];
    for (let after; ;) {
      const page = await api('GET', `/api/v1/audits?limit=500${after ? `&after=${after}` : ''}`);
      audits.push(...page.audits);
      if (page.audits.length < 500) break;
      after = page.audits[page.audits.length - 1].id;
    }
    const accounting = accountFor(published, audits);
    const ingestLag = [];
    const verdictLag = [];
    for (const x of audits) {
      const f = published.get(x.filename);
      if (!f) continue;
      ingestLag.push(Date.parse(x.submittedAt) - f.publishedAt);
      if (x.state === 'done' && x.finishedAt) verdictLag.push(Date.parse(x.finishedAt) - f.publishedAt);
    }
    const during = samples.filter((s) => s.t <= publishEnd - t0);
    const leaseWindows = [];
    for (const t of stats.leaseTimes) leaseWindows[Math.floor((t - t0) / 1000)] = (leaseWindows[Math.floor((t - t0) / 1000)] ?? 0) + 1;
    const activeMs = Math.max(1, (stats.leaseTimes.at(-1) ?? t0) - (stats.leaseTimes[0] ?? t0));
    const wallS = (publishEnd - t0) / 1000;
    return {
      label: store.label,
      wallSeconds: wallS,
      pypiSeconds: schedule.spanSec,
      achievedSpeedup: (published.size / Math.max(1, wallS)) * (DAY_SECONDS / FILES_PER_DAY),
      publisherLateMs: lateMs,
      publishErrors,
      files: published.size,
      releases: new Set([...published.values()].map((f) => `${f.name}\0${f.version}`)).size,
      sdists: [...published.values()].filter((f) => f.kind === 'sdist').length,
      wheels: [...published.values()].filter((f) => f.kind === 'wheel').length,
      changes: schedule.actions.filter((x) => x.op !== 'publish' && x.op !== 'noise').length,
      ingestLag: { p50: quantile(ingestLag, 0.5), p95: quantile(ingestLag, 0.95), max: quantile(ingestLag, 1) },
      verdictLag: { p50: quantile(verdictLag, 0.5), p95: quantile(verdictLag, 0.95), max: quantile(verdictLag, 1) },
      queue: {
        maxQueued: Math.max(0, ...during.map((s) => s.queued)), meanQueued: during.length ? during.reduce((n, s) => n + s.queued, 0) / during.length : 0,
        maxRunning: Math.max(0, ...samples.map((s) => s.running)), maxSerialLag: Math.max(0, ...samples.map((s) => s.serialLag)),
        series: samples.map((s) => ({ t: s.t, queued: s.queued, running: s.running, done: s.done, serialLag: s.serialLag })),
      },
      leases: { total: stats.leases, perSecond: (stats.leases * 1000) / activeMs, peakPerSecond: Math.max(0, ...leaseWindows.filter(Boolean)) },
      slaves: { completed: stats.completed, cancelled: stats.cancelled, lost: stats.lost, rejected: stats.rejected, rpcErrors: stats.rpcErrors, lastError: stats.lastError },
      drained, drainSeconds: drainMs / 1000,
      accounting,
      published: [...published.values()].map(({ filename, name, version, kind, tag, disturbed, publishedAt }) => ({ filename, name, version, kind, tag, disturbed, publishedAt })),
      audits: audits.map(({ id, filename, project, version, state, submittedAt, startedAt, finishedAt, attempts }) => ({ id, filename, project, version, state, submittedAt, startedAt, finishedAt, attempts })),
    };
  } finally {
    await fleet?.stop();
    await master?.child.stop('SIGTERM', 15_000);
    await index?.child.stop('SIGTERM', 5_000);
    pg?.stop();
    if (a.keep) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const schedule = daySchedule({ startSec, spanSec: wallSec * speedup, maxFiles, seed, churn });
const auditable = schedule.actions.filter((x) => x.op === 'publish' && auditedByPolicy(x.file)).length;
console.log(`a day of PyPI replayed: ${schedule.files} files (${schedule.releases} releases; ${auditable} the master's policy audits: sdists and pure wheels)`
  + ` from PyPI ${clock(0)} to ${clock(schedule.spanSec)} at ${speedup}× PyPI's rate (${FILES_PER_DAY} files a day)`);
console.log(`${nSlaves} simulated slaves × ${concurrency}; audit times drawn from ${AUDIT_TIMES_SOURCE}${auditScale !== 1 ? `, scaled ×${auditScale}` : ''}`);
const runs = [];
for (const store of stores) {
  try {
    runs.push(await replay(store, schedule));
  } catch (err) {
    console.log(`[${store.label}] failed: ${err.stack ?? err}`);
    runs.push({ label: store.label, skipped: `failed: ${err.message}` });
  }
}

// ---- the figures, side by side -------------------------------------------------------------------
const done = runs.filter((r) => !r.skipped);
const row = (what, f) => console.log(`  ${what.padEnd(44)} ${done.map((r) => String(f(r)).padStart(22)).join(' ')}`);
console.log(`\nresults (${done.length ? done.map((r) => r.label).join(' | ') : 'no run'}):`);
for (const r of runs.filter((x) => x.skipped)) console.log(`  ${r.label}: not run: ${r.skipped}`);
if (done.length) {
  row('store', (r) => r.label);
  row('wall time publishing', (r) => `${r.wallSeconds.toFixed(0)} s`);
  row('files published (sdists / wheels)', (r) => `${r.files} (${r.sdists}/${r.wheels})`);
  row('releases; yanks and removals', (r) => `${r.releases}; ${r.changes}`);
  row('rate achieved (× PyPI)', (r) => r.achievedSpeedup.toFixed(1));
  row('publisher late by (max)', (r) => fmtS(r.publisherLateMs));
  row('ingest lag p50 / p95 / max', (r) => `${fmtS(r.ingestLag.p50)} / ${fmtS(r.ingestLag.p95)} / ${fmtS(r.ingestLag.max)}`);
  row('queue depth mean / max (queued)', (r) => `${r.queue.meanQueued.toFixed(1)} / ${r.queue.maxQueued}`);
  row('running at once (max)', (r) => r.queue.maxRunning);
  row('feed lag (max, serials)', (r) => r.queue.maxSerialLag);
  row('leases/s mean / peak (in 1 s)', (r) => `${r.leases.perSecond.toFixed(2)} / ${r.leases.peakPerSecond}`);
  row('upload→verdict p50 / p95', (r) => `${fmtS(r.verdictLag.p50)} / ${fmtS(r.verdictLag.p95)}`);
  row('drained after the last upload', (r) => (r.drained ? `${r.drainSeconds.toFixed(0)} s` : 'NO'));
  row('audits: done once / auditable', (r) => `${r.accounting.exactlyOnce} / ${r.accounting.auditable - r.accounting.disturbed}`);
  row('  yanked or removed (0 or 1 audit)', (r) => r.accounting.disturbed);
  row('  platform wheels (not audited)', (r) => r.accounting.skippedByPolicy);
  row('  missing / doubled / unexpected', (r) => `${r.accounting.missing.length} / ${r.accounting.doubled.length} / ${r.accounting.unexpected.length}`);
  row('  wrong state', (r) => r.accounting.wrongState.length);
  row('slaves: completed / cancelled / lost', (r) => `${r.slaves.completed} / ${r.slaves.cancelled} / ${r.slaves.lost}`);
  row('exactly once', (r) => (r.accounting.ok ? 'yes' : 'NO'));
  row('keeps up (ingest lag < 60 s, drained)', (r) => (r.ingestLag.max !== null && r.ingestLag.max < 60_000 && r.drained ? 'yes' : 'NO'));
  for (const r of done) {
    const pts = r.queue.series;
    const step = Math.max(1, Math.ceil(pts.length / 12));
    console.log(`  queue over time [${r.label}] (t: queued/running): ${pts.filter((_, i) => i % step === 0).map((p) => `${Math.round(p.t / 1000)}s ${p.queued}/${p.running}`).join(', ')}`);
    for (const [k, v] of Object.entries({ missing: r.accounting.missing, doubled: r.accounting.doubled, unexpected: r.accounting.unexpected, 'wrong state': r.accounting.wrongState })) {
      if (v.length) console.log(`  ${k} [${r.label}]: ${v.slice(0, 10).join(', ')}${v.length > 10 ? ` … (${v.length})` : ''}`);
    }
    if (r.slaves.lastError) console.log(`  last slave error [${r.label}]: ${r.slaves.lastError}`);
  }
}
if (a.json) {
  writeFileSync(a.json, JSON.stringify({ speedup, startSec, wallSec, maxFiles: Number.isFinite(maxFiles) ? maxFiles : null, slaves: nSlaves, concurrency, auditScale, seed, churn, runs }, null, 1));
  console.log(`figures written to ${a.json}`);
}
process.exit(done.length === runs.length && done.every((r) => r.accounting.ok) ? 0 : 1);
