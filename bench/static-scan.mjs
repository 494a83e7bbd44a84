#!/usr/bin/env node
/**
 * Static scanner bench: scans every distribution under the given directories (recursively:
 * .tar.gz, .tgz, .whl, .zip, bare .py) with common/src/static's scanDistribution, or with
 * `--tree DIR` each package directory of an installed tree (site-packages) with scanSources, and
 * prints, per severity, how many inputs had a finding at or above it, how often each rule fired,
 * the inputs with nothing at medium or above (misses, for malware) and those with something above
 * low (alarms, for benign sets). Build first (npm run build): it imports common/dist.
 *
 *   node bench/static-scan.mjs /root/corpus/malware-dev [--misses 50] [--alarms 50] [--json out.json]
 *   node bench/static-scan.mjs --tree /usr/lib/python3/dist-packages
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { scanDistribution, scanSources, wantedMember } from '../common/dist/static/index.js';

const SEV = ['info', 'low', 'medium', 'high', 'critical'];
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const nMisses = Number(opt('--misses', '40'));
const nAlarms = Number(opt('--alarms', '40'));
const jsonOut = opt('--json', undefined);
const trees = [];
for (let t; (t = opt('--tree', undefined)); ) trees.push(t);
const roots = args;

function* walk(dir) {
  let ents;
  try { ents = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of ents.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/** One installed package directory (or top-level module) as a list of source texts. */
function treeSources(dir, name) {
  const out = [];
  let bytes = 0;
  const top = join(dir, name);
  const files = statSync(top).isDirectory() ? [...walk(top)] : [top];
  for (const f of files) {
    if (!wantedMember(f) || out.length >= 5000 || bytes > 32 * 1024 * 1024) continue;
    const buf = readFileSync(f).subarray(0, 2 * 1024 * 1024);
    bytes += buf.length;
    out.push({ path: relative(dir, f), text: buf.toString('utf8') });
  }
  return out;
}

const results = [];
const t0 = Date.now();
for (const root of roots) {
  for (const f of walk(root)) {
    if (!/\.(tar\.gz|tgz|whl|zip|py)$/i.test(f)) continue;
    try {
      const s = await scanDistribution(f);
      results.push({ input: relative(root, f), findings: s.findings, files: s.files, truncated: s.truncated });
    } catch (err) {
      results.push({ input: relative(root, f), error: String(err.message ?? err), findings: [] });
    }
  }
}
for (const tree of trees) {
  for (const name of readdirSync(tree).sort()) {
    if (/\.(dist|egg)-info$|^__pycache__$/.test(name)) continue;
    const p = join(tree, name);
    if (!statSync(p).isDirectory() && !/\.py$/.test(name)) continue;
    const texts = treeSources(tree, name);
    if (!texts.length) continue;
    // installed trees have no metadata: the package name stands in for the distribution's
    results.push({ input: `${tree}:${name}`, findings: scanSources(texts, { distName: name.replace(/\.py$/, '') }), files: texts.length });
  }
}
const secs = (Date.now() - t0) / 1000;
const top = (r) => r.findings.reduce((m, f) => Math.max(m, SEV.indexOf(f.severity)), -1);
const n = results.length;
console.log(`${n} inputs in ${secs.toFixed(1)} s (${results.filter((r) => r.error).length} unreadable)`);
for (const s of SEV.slice(1)) {
  const k = results.filter((r) => top(r) >= SEV.indexOf(s)).length;
  console.log(`  ≥ ${s.padEnd(8)} ${String(k).padStart(6)}  ${((100 * k) / Math.max(n, 1)).toFixed(1)} %`);
}
const rules = new Map();
for (const r of results) {
  const seen = new Map();
  for (const f of r.findings) seen.set(f.rule, Math.max(seen.get(f.rule) ?? -1, SEV.indexOf(f.severity)));
  for (const [id, s] of seen) {
    const e = rules.get(id) ?? { any: 0, medium: 0 };
    e.any++;
    if (s >= 2) e.medium++;
    rules.set(id, e);
  }
}
console.log('rules (inputs where it fired: any severity / medium+):');
for (const [id, e] of [...rules].sort((a, b) => b[1].medium - a[1].medium)) console.log(`  ${id.padEnd(22)} ${String(e.any).padStart(6)} ${String(e.medium).padStart(6)}`);
const misses = results.filter((r) => top(r) < 2);
console.log(`misses (nothing at medium+): ${misses.length}`);
for (const r of misses.slice(0, nMisses)) console.log(`  ${r.input}${r.error ? ` ERROR ${r.error}` : ''}  [${r.findings.map((f) => `${f.rule}:${f.severity}`).join(' ')}]`);
const alarms = results.filter((r) => top(r) >= 2);
console.log(`inputs with a finding above low: ${alarms.length}`);
for (const r of alarms.slice(0, nAlarms)) {
  const f = r.findings.find((x) => SEV.indexOf(x.severity) >= 2);
  console.log(`  ${r.input}  ${f.rule}:${f.severity} ${f.sources?.[0] ? `${f.sources[0].file}:${f.sources[0].line} ${f.sources[0].excerpt.slice(0, 120)}` : ''}`);
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results.map((r) => ({ input: r.input, error: r.error, top: SEV[top(r)] ?? 'none', findings: r.findings })), null, 1));
