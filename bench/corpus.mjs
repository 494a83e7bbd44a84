#!/usr/bin/env node
/**
 * PyTI against native pytest on the real-world corpus:
 *
 *   node bench/corpus.mjs [DIR] [--backend B] [--only NAME,…] [--index-url URL] [--json FILE] [--keep]
 *
 * DIR (default ~/.cache/pyti/corpus, filled by bench/corpus-fetch.mjs) holds sdists/ and wheelhouse/
 * (or is itself a directory of sdists with a wheelhouse/ beside them). For every sdist, one at a time:
 * 1. `node bin/pyti.mjs audit SDIST --wheelhouse DIR/wheelhouse --json --out OUT --backend B`
 *    (with --index-url: `audit NAME==VERSION --index-url URL` instead);
 * 2. native: the same sdist, the same wheelhouse and the same test requirements (readTestRequirements),
 *    plain pytest in a fresh venv of the guest's Python under bubblewrap without network
 *    (test/src/corpus/native.ts);
 * 3. per-test comparison (classname::name → pass/fail/error/skip; PyTI's flaky counts as its final pass); a
 *    package whose test requirements the wheelhouse cannot give at all is `deps` when PyTI says
 *    test-fail:deps naming only what native lacked too (native pytest runs without them), not parity.
 * Prints one line per package (native tests, PyTI tests, identical y/n with the first differences, PyTI's
 * result, verdict and highest finding, PyTI time / native time), then totals; writes everything to
 * DIR/results/corpus-<time>.json (or --json FILE). Needs `npm run build` and the guest image.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireRootfs } from '../images/dist/index.js';
import { corpusDir, normalizeName } from '../test/dist/corpus/obtain.js';
import { runNative } from '../test/dist/corpus/native.js';
import { compareOutcomes, nativeOutcomes, pytiOutcomesOfReport } from '../test/dist/corpus/compare.js';

const args = process.argv.slice(2);
let dir;
let backend = 'bwrap';
let only;
let indexUrl;
let jsonOut;
let keep = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--backend') backend = args[++i];
  else if (a === '--only') only = args[++i].split(',').filter(Boolean).map(normalizeName);
  else if (a === '--index-url') indexUrl = args[++i];
  else if (a === '--json') jsonOut = args[++i];
  else if (a === '--keep') keep = true;
  else if (a === '-h' || a === '--help') {
    console.log('usage: node bench/corpus.mjs [DIR] [--backend B] [--only NAME,…] [--index-url URL] [--json FILE] [--keep]');
    process.exit(0);
  } else if (a.startsWith('-')) {
    console.error(`corpus: unknown option ${a}`);
    process.exit(64);
  } else dir = resolve(a);
}
dir ??= corpusDir();
const sdistDir = existsSync(join(dir, 'sdists')) ? join(dir, 'sdists') : dir;
const wheelhouse = existsSync(join(dir, 'wheelhouse')) ? join(dir, 'wheelhouse') : join(sdistDir, '..', 'wheelhouse');
if (!existsSync(wheelhouse)) {
  console.error(`corpus: no wheelhouse at ${wheelhouse} (run node bench/corpus-fetch.mjs)`);
  process.exit(64);
}
const rootfs = requireRootfs().path;
const PYTI = new URL('../bin/pyti.mjs', import.meta.url).pathname;
const work = join(dir, 'bench-work');
mkdirSync(work, { recursive: true });

/** name-version from an sdist filename. */
function parseSdist(file) {
  const m = /^(.+)-([^-]+)\.(tar\.gz|zip)$/.exec(file);
  return m ? { name: m[1], version: m[2] } : null;
}

function audit(target, out) {
  return new Promise((res) => {
    const argv = [PYTI, 'audit', target, '--json', '--out', out, '--backend', backend, '--quiet'];
    if (indexUrl) argv.push('--index-url', indexUrl);
    else argv.push('--wheelhouse', wheelhouse);
    const t0 = Date.now();
    const p = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    p.on('close', (code) => {
      let report = null;
      try {
        report = JSON.parse(stdout);
      } catch {
        const f = join(out, 'report.json');
        if (existsSync(f)) try { report = JSON.parse(readFileSync(f, 'utf8')); } catch { /* none */ }
      }
      res({ code, report, stderr, ms: Date.now() - t0 });
    });
  });
}

const files = readdirSync(sdistDir).filter((f) => /\.(tar\.gz|zip)$/.test(f)).sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' }));
const picked = files.filter((f) => {
  const p = parseSdist(f);
  return p && (!only || only.includes(normalizeName(p.name)));
});
const rows = [];
const t00 = Date.now();
const say = (l) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0).padStart(5)}s] ${l}`);
for (const [i, f] of picked.entries()) {
  const { name, version } = parseSdist(f);
  const sdist = join(sdistDir, f);
  const out = join(work, `${name}-${version}`, 'pyti');
  rmSync(out, { recursive: true, force: true });
  say(`${i + 1}/${picked.length} ${name} ${version}: PyTI audit (${backend})`);
  const a = await audit(indexUrl ? `${name}==${version}` : sdist, out);
  const r = a.report;
  say(`${i + 1}/${picked.length} ${name} ${version}: PyTI ${r ? `${r.result} / ${r.verdict}` : `no report (exit ${a.code})`} in ${(a.ms / 1000).toFixed(0)} s; native pytest`);
  // The same test requirements as PyTI's test task installed, when the report names them.
  let native;
  try {
    native = await runNative({ rootfs, sdist, wheelhouse, workDir: join(work, `${name}-${version}`, 'native') });
  } catch (err) {
    native = { status: 'error', cases: [], ms: 0, log: String(err?.message ?? err), testRequirements: [], missingTestRequirements: [] };
  }
  const nat = nativeOutcomes(native.cases);
  const pyt = pytiOutcomesOfReport(r?.tests, out);
  const parity = compareOutcomes(nat, pyt);
  const bothNone = nat.size === 0 && pyt.size === 0;
  const identical = parity.identical && (!bothNone || (native.status === 'ran' && r?.tests?.status === 'no tests'));
  // A test requirement the wheelhouse cannot give at all: native pytest runs without it, PyTI does not run
  // the tests and names it (test-fail:deps, as designed). Agreed when PyTI names only what native lacked
  // too, or when the tests need what nobody declared and native pytest stopped too (every native outcome
  // an error: collection errors, an internal error).
  const base = (q) => normalizeName(q.split(/[<>=!~;\s[(]/)[0]);
  const nativeMissing = new Set((native.missingTestRequirements ?? []).map(base));
  const named = (r?.tests?.missingRequirements ?? []).map(base);
  const nativeStopped = nat.size > 0 && [...nat.values()].every((o) => o === 'error');
  const depsAgreed = r?.result === 'test-fail:deps' && named.length > 0
    && ((nativeMissing.size > 0 && named.every((n) => nativeMissing.has(n))) || (nativeMissing.size === 0 && nativeStopped));
  const row = {
    name, version, file: f,
    native: { status: native.status, tests: nat.size, ms: native.ms, pytestExit: native.pytestExit, missingTestRequirements: native.missingTestRequirements, testRequirements: native.testRequirements, log: native.status === 'ran' ? undefined : native.log },
    pyti: r ? { result: r.result, verdict: r.verdict, maxSeverity: r.maxSeverity ?? null, tests: pyt.size, testStatus: r.tests?.status, testReason: r.tests?.reason, missingRequirements: r.tests?.missingRequirements, flaky: r.tests?.flaky?.length ?? 0, ms: a.ms, findings: (r.findings ?? []).filter((x) => x.severity !== 'info' && x.severity !== 'low').map((x) => `${x.severity} ${x.rule}`) } : { error: `exit ${a.code}: ${a.stderr.slice(-600)}`, ms: a.ms },
    identical, depsAgreed, differences: parity.differences, differenceCount: parity.differenceCount,
  };
  rows.push(row);
  const ratio = native.ms ? (a.ms / native.ms).toFixed(1) : '-';
  const verdictText = identical ? 'y' : depsAgreed
    ? (nativeMissing.size ? `deps (test requirements not obtainable here: ${[...nativeMissing].join(', ')}; PyTI names ${named.join(', ')}, native ran without them)` : `deps (undeclared: PyTI names ${named.join(', ')}; native pytest stopped with ${nat.size} errors)`)
    : `n (${parity.differenceCount} differ)`;
  console.log(`${name} ${version}: native ${nat.size} (${native.status}) · PyTI ${pyt.size} · identical ${verdictText} · ${r ? `${r.result} ${r.verdict} ${r.maxSeverity ?? '-'}` : 'no report'} · ${(a.ms / 1000).toFixed(0)} s / ${(native.ms / 1000).toFixed(0)} s (${ratio}×)`);
  for (const d of identical || depsAgreed ? [] : parity.differences.length ? parity.differences : [native.status !== 'ran' ? `native: ${native.log.split('\n').slice(-3).join(' | ')}` : `PyTI: ${r?.tests?.reason ?? r?.result ?? 'no report'}`]) console.log(`    ${d}`);
  if (!keep) rmSync(join(work, `${name}-${version}`, 'native', 'venv'), { recursive: true, force: true });
}
const sum = (k) => rows.reduce((s, x) => s + (k(x) || 0), 0);
const above = rows.filter((x) => x.pyti.findings?.length);
const totals = {
  packages: rows.length,
  parity: rows.filter((x) => x.identical).length,
  depsAgreed: rows.filter((x) => x.depsAgreed).length,
  errors: rows.filter((x) => !x.pyti.result || x.pyti.result.startsWith('error') || x.pyti.result === 'inspect-fail').map((x) => `${x.name}: ${x.pyti.result ?? x.pyti.error}`),
  nativeTests: sum((x) => x.native.tests),
  pytiTests: sum((x) => x.pyti.tests),
  aboveLow: above.map((x) => `${x.name}: ${x.pyti.findings.join(', ')}`),
  pytiSeconds: Math.round(sum((x) => x.pyti.ms) / 1000),
  nativeSeconds: Math.round(sum((x) => x.native.ms) / 1000),
};
const comparable = totals.packages - totals.depsAgreed;
console.log(`\ntotal: parity ${totals.parity}/${comparable} of the packages whose test requirements are obtainable (${comparable ? ((100 * totals.parity) / comparable).toFixed(1) : '-'} %) · test-fail:deps agreeing with native's missing requirements: ${totals.depsAgreed} · inspect or infrastructure errors: ${totals.errors.length}${totals.errors.length ? ` (${totals.errors.join('; ')})` : ''} · tests native ${totals.nativeTests} vs PyTI ${totals.pytiTests} · packages with findings above low: ${above.length}${above.length ? ` (${totals.aboveLow.join('; ')})` : ''} · PyTI ${totals.pytiSeconds} s vs native ${totals.nativeSeconds} s`);
const resultFile = jsonOut ?? join(dir, 'results', `corpus-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(resultFile, '..'), { recursive: true });
writeFileSync(resultFile, JSON.stringify({ backend, dir, totals, rows }, null, 1));
console.log(`results: ${resultFile}`);
