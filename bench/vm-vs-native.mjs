// Benchmark: the same audit natively (a plain chroot of the guest's root filesystem, no isolation), in
// bubblewrap, and in the VM backends (QEMU, libvirt), per task and in all, each as a ratio to native;
// lease-to-ready (start() → the guest's hello) with and without a pool of ready guests; for the
// bundled pyti-sample fixture and for one real corpus package with a real test suite (cachetools by
// default: pure Python, setuptools, 214 tests that pass natively in about 2 s, no test requirement
// but pytest). Backends alternate within each round (the machine is noisy); figures are medians over
// rounds. The targets are printed beside the figures with whether each is met.
//
// Usage: node bench/vm-vs-native.mjs [--rounds N] [--lease-rounds N] [--backends native,bwrap,qemu,libvirt]
//                                    [--corpus NAME|none] [--json [FILE]]   (old form: [rounds] [lease rounds]; 0 rounds: none)
// --json alone prints one JSON document on stdout (the tables go to stderr); --json FILE writes it there.
// Needs `npm run build` and the guest image (`node bin/pyti.mjs image build`); the corpus package comes
// from ~/.cache/pyti/corpus (PYTI_CORPUS_DIR), filled by `node bench/corpus-fetch.mjs`. What cannot run
// here is skipped with the reason.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leaseAndTargetLines, median, summariseWorkload, targetChecks, targetsFor, workloadTable } from './vm-vs-native-report.mjs';

const USAGE = 'usage: node bench/vm-vs-native.mjs [--rounds N] [--lease-rounds N] [--backends native,bwrap,qemu,libvirt] [--corpus NAME|none] [--json [FILE]]';
const opts = { rounds: 1, leaseRounds: 3, backends: ['native', 'bwrap', 'qemu', 'libvirt'], corpus: 'cachetools', json: undefined };
{
  const args = process.argv.slice(2);
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const num = (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) { console.error(`vm-vs-native: ${a} wants a whole number ≥ 0, not ${v}\n${USAGE}`); process.exit(64); }
      return n;
    };
    if (a === '--rounds') opts.rounds = num(args[++i]);
    else if (a === '--lease-rounds' || a === '--boot-rounds') opts.leaseRounds = num(args[++i]);
    else if (a === '--backends') opts.backends = (args[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--corpus') opts.corpus = args[++i];
    else if (a === '--json') opts.json = args[i + 1] && !args[i + 1].startsWith('--') ? args[++i] : '-';
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (/^\d+$/.test(a)) positional.push(num(a));
    else { console.error(`vm-vs-native: unknown argument ${a}\n${USAGE}`); process.exit(64); }
  }
  if (positional[0] !== undefined) opts.rounds = positional[0];
  if (positional[1] !== undefined) opts.leaseRounds = positional[1];
  const unknown = opts.backends.filter((b) => !['native', 'bwrap', 'qemu', 'libvirt'].includes(b));
  if (unknown.length || !opts.backends.includes('native')) { console.error(`vm-vs-native: --backends takes native (always) and any of bwrap, qemu, libvirt\n${USAGE}`); process.exit(64); }
}
/** Tables go to stdout, unless stdout carries the JSON document. */
const say = (s) => (opts.json === '-' ? process.stderr : process.stdout).write(`${s}\n`);
const progress = (s) => process.stderr.write(`${s}\n`);

let slave;
let fixtures;
let corpusDir;
try {
  slave = await import('../slave/dist/index.js');
  fixtures = await import('../test/dist/index.js');
  ({ corpusDir } = await import('../test/dist/corpus/obtain.js'));
} catch (e) {
  console.log(`vm-vs-native: skipped (not built: run npm run build first): ${e.message}`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-vm-'));
const agentDir = new URL('../vm-agent/bundle/', import.meta.url).pathname;
const tasksDir = new URL('../tasks/guest/', import.meta.url).pathname;

/** A backend by bench name; `pool` is passed to the VM backends (ignored by builds without a pool). */
function makeBackend(name, pool) {
  if (name === 'native') return new slave.ChrootBackend();
  if (name === 'bwrap') return new slave.BwrapBackend();
  if (name === 'qemu') return new slave.QemuBackend(pool === undefined ? {} : { pool });
  return new slave.LibvirtBackend(pool === undefined ? {} : { pool });
}
/** Whether this build's backend keeps a pool of ready guests (see QemuBackend's `pool` option). */
const hasPool = (b) => typeof b.poolReady === 'function';
/** Waits until the pool holds a ready guest (a no-op without a pool). */
const poolFilled = async (b) => { if (hasPool(b)) await b.poolReady(); };
/** Ends a backend's pool of guests, whatever this build calls it. */
async function closeBackend(b) {
  for (const m of ['closePool', 'close', 'dispose', 'drain', 'shutdown']) if (typeof b[m] === 'function') { await b[m](); return; }
}

const started = Date.now();
const skipped = {};
const backends = {};
const opened = [];
try {
  // Which backends run here; the VM backends lease from a pool when this build has one.
  for (const name of opts.backends) {
    if (name === 'libvirt') await slave.ensureLibvirtd(undefined, 90000).catch(() => undefined);
    const b = makeBackend(name, name === 'qemu' || name === 'libvirt' ? 1 : undefined);
    opened.push(b);
    const why = await b.probe();
    if (why) { skipped[name] = why; progress(`${name}: skipped (${why})`); continue; }
    backends[name] = b;
  }
  const vms = Object.keys(backends).filter((n) => backends[n].capabilities.isolation === 'vm');
  const accelerator = vms.length ? backends[vms[0]].capabilities.accelerator : undefined;
  const targets = targetsFor(accelerator);

  // Lease-to-ready, with and without the pool, alternated per round.
  const noop = {
    parallel: 1,
    tasks: [{ id: 'noop', title: 'noop', dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', command: ['true'],
      limits: { wallSeconds: 60, noOutputSeconds: 60, cpuSeconds: 60, memoryBytes: 1e9, processes: 16, outputBytes: 1e6 } }],
  };
  const emptyWheels = join(dir, 'no-wheels');
  mkdirSync(emptyWheels);
  async function leaseOnce(backend, tag, pooled) {
    const jobDir = join(dir, `lease-${tag}`);
    mkdirSync(join(jobDir, 'input'), { recursive: true });
    // With the pool: lease once it holds a ready guest (as a slave's next job would, restored while the last ran).
    if (pooled) await poolFilled(backend);
    const t0 = process.hrtime.bigint();
    const inst = await backend.start({ inputDir: join(jobDir, 'input'), wheelhouse: emptyWheels, agentDir, tasksDir, rootfs: '', jobDir });
    const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
    try {
      const session = await slave.runAgentSession(inst, noop);
      if (!session.hello) throw new Error(`no hello: ${JSON.stringify(session.infraError)}`);
      return startMs + session.bootMs;
    } finally {
      await inst.dispose();
      rmSync(jobDir, { recursive: true, force: true });
    }
  }
  const lease = {};
  for (const vm of vms) {
    const unpooled = makeBackend(vm, 0);
    opened.push(unpooled);
    const pooled = backends[vm];
    lease[vm] = { withoutPool: { samplesMs: [] }, withPool: hasPool(pooled) ? { samplesMs: [] } : { skipped: 'not available (this build\'s backend has no pool of ready guests)' } };
    for (let i = 0; i < opts.leaseRounds; i++) {
      const modes = hasPool(pooled) ? (i % 2 ? ['withPool', 'withoutPool'] : ['withoutPool', 'withPool']) : ['withoutPool'];
      for (const mode of modes) {
        const ms = await leaseOnce(mode === 'withPool' ? pooled : unpooled, `${vm}-${mode}-${i}`, mode === 'withPool');
        lease[vm][mode].samplesMs.push(ms);
        progress(`lease ${vm} ${mode === 'withPool' ? 'with' : 'without'} the pool ${i + 1}/${opts.leaseRounds}: ${(ms / 1000).toFixed(2)} s to hello`);
      }
    }
    for (const m of Object.values(lease[vm])) if (m.samplesMs) m.medianMs = median(m.samplesMs);
    await closeBackend(unpooled);
  }

  // The workloads: the fixture, and the corpus package when the corpus has it.
  const workloads = [];
  if (opts.rounds === 0) workloads.push({ label: 'audits', skipped: '0 rounds asked' });
  else try {
    workloads.push({ label: 'pyti-sample', title: 'pyti-sample 1.0 (the bundled fixture: sdist with one dependency)', distPath: fixtures.buildFixture('pyti-sample', 'sdist'), wheelhouse: fixtures.makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']) });
  } catch (e) {
    workloads.push({ label: 'pyti-sample', skipped: `the fixture cannot be built here: ${e.message}` });
  }
  if (opts.corpus !== 'none' && opts.rounds > 0) {
    const cdir = corpusDir();
    const sdists = existsSync(join(cdir, 'sdists')) ? readdirSync(join(cdir, 'sdists')) : [];
    const file = sdists.find((f) => f.toLowerCase().replace(/_/g, '-').startsWith(`${opts.corpus.toLowerCase()}-`) && /\.(?:tar\.gz|zip)$/.test(f));
    if (!file) workloads.push({ label: opts.corpus, skipped: `not in the corpus at ${cdir} (node bench/corpus-fetch.mjs fetches it)` });
    else workloads.push({ label: opts.corpus, title: `${file} (corpus: a real package and its real test suite)`, distPath: join(cdir, 'sdists', file), wheelhouse: join(cdir, 'wheelhouse') });
  }

  // Audits: every backend once per round, the order rotated each round.
  const names = Object.keys(backends);
  for (const w of workloads.filter((x) => !x.skipped)) {
    w.runs = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < opts.rounds; i++) {
      const order = names.map((_, k) => names[(k + i) % names.length]);
      for (const name of order) {
        const backend = backends[name];
        await poolFilled(backend);
        const outDir = join(dir, `${w.label}-${name}-${i}`);
        const t0 = process.hrtime.bigint();
        const { report } = await slave.auditDistribution({ distPath: w.distPath, wheelhouse: w.wheelhouse, outDir, backend });
        const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
        rmSync(outDir, { recursive: true, force: true });
        w.runs[name].push({
          totalMs, result: report.result, order: report.tasks.map((t) => t.id),
          tasks: Object.fromEntries(report.tasks.map((t) => [t.id, t.durationMs])),
          tests: report.tests ? { total: report.tests.total, passed: report.tests.passed } : undefined,
        });
        progress(`audit ${w.label} ${name} ${i + 1}/${opts.rounds}: ${(totalMs / 1000).toFixed(1)} s, ${report.result}`);
      }
    }
    w.summary = summariseWorkload(w.runs);
  }

  const checks = targetChecks(workloads, lease, targets);
  say(`vm-vs-native: the same audit on each backend, ${opts.rounds} round(s) alternating, medians; ratios to native (the chroot backend); accelerator ${accelerator ?? 'n/a'}`);
  for (const [n, why] of Object.entries(skipped)) say(`  ${n}: skipped (${why})`);
  for (const vm of vms) say(`  ${vm}: ${hasPool(backends[vm]) ? 'audits lease from a pool of 1 ready guest, filled before each audit' : 'pool: not available (each audit restores its guest)'}`);
  for (const w of workloads) {
    say('');
    if (w.skipped) say(`${w.label}: skipped (${w.skipped})`);
    else say(workloadTable(w.title, w.summary));
  }
  say('');
  say(leaseAndTargetLines(lease, checks, targets, accelerator));
  say(`(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);

  if (opts.json) {
    const doc = {
      bench: 'vm-vs-native', at: new Date().toISOString(), rounds: opts.rounds, leaseRounds: opts.leaseRounds, accelerator: accelerator ?? null,
      backends: Object.fromEntries(opts.backends.map((n) => [n, skipped[n] ? { skipped: skipped[n] } : { pool: backends[n].capabilities.isolation === 'vm' ? hasPool(backends[n]) : undefined }])),
      workloads: workloads.map((w) => (w.skipped ? { label: w.label, skipped: w.skipped } : { label: w.label, title: w.title, ...w.summary, runs: w.runs })),
      leaseToReady: lease, targets: { ...targets, checks },
    };
    const text = `${JSON.stringify(doc, null, 1)}\n`;
    if (opts.json === '-') process.stdout.write(text);
    else writeFileSync(opts.json, text);
  }
} finally {
  for (const b of opened) await closeBackend(b).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
