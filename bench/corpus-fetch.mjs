#!/usr/bin/env node
/**
 * Obtains PyTI's real-world corpus (test/corpus/corpus.json) outside the repository:
 *
 *   node bench/corpus-fetch.mjs [DIR] [--only NAME,…] [--mirrors DIR] [--serve [--port N]]
 *
 * DIR defaults to $PYTI_CORPUS_DIR or ~/.cache/pyti/corpus. It ends up with sdists/ (one sdist per
 * member), wheelhouse/ (runtime and test dependencies and build backends, from Debian's packages and
 * fetched repositories) and members.json / skipped.json. With --serve it then runs the test package
 * index (test/dist/index-server) over sdists/ and wheelhouse/ and prints its URL, so that
 * `pyti audit NAME==VERSION --index-url URL/simple/` works; Ctrl-C stops it.
 * Needs `npm run build` (it runs from dist/) and the guest image (`pyti image build`).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireRootfs } from '../images/dist/index.js';
import { validateDist } from '../common/dist/index.js';
import { corpusDir, obtainCorpus } from '../test/dist/corpus/obtain.js';

const args = process.argv.slice(2);
let dir;
let only;
let mirrors;
let serve = false;
let port = '0';
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--only') only = args[++i].split(',').filter(Boolean);
  else if (a === '--mirrors') mirrors = args[++i];
  else if (a === '--serve') serve = true;
  else if (a === '--port') port = args[++i];
  else if (a === '-h' || a === '--help') {
    console.log('usage: node bench/corpus-fetch.mjs [DIR] [--only NAME,…] [--mirrors DIR] [--serve [--port N]]');
    process.exit(0);
  } else if (a.startsWith('-')) {
    console.error(`corpus-fetch: unknown option ${a}`);
    process.exit(64);
  } else dir = a;
}
dir ??= corpusDir();
const rootfs = requireRootfs().path;
const t0 = Date.now();
const res = await obtainCorpus({ dir, rootfs, only, mirrors, log: (l) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${l}`) });
console.log(`corpus: ${res.members.length} sdists in ${res.sdistDir}, ${readdirSync(res.wheelhouse).length} wheels in ${res.wheelhouse}`);
for (const s of res.skipped) console.log(`  not obtained: ${s.name}: ${s.reason.split('\n')[0]}`);
if (serve) {
  const all = [...res.members.map((m) => join(res.sdistDir, m.file)), ...readdirSync(res.wheelhouse).filter((f) => f.endsWith('.whl')).map((f) => join(res.wheelhouse, f))];
  // The index serves only what PyTI's own input validation accepts; the others are named.
  const files = [];
  for (const f of all) {
    try {
      await validateDist(f);
      files.push(f);
    } catch (err) {
      console.log(`  not served: ${err.message}`);
    }
  }
  const server = spawn(process.execPath, [new URL('../test/dist/index-server/main.js', import.meta.url).pathname, '--port', port, ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
  server.stdout.on('data', (d) => {
    for (const line of d.toString().split('\n').filter(Boolean)) {
      try {
        const { url } = JSON.parse(line);
        console.log(`index: ${url}/simple/  (pyti audit NAME==VERSION --index-url ${url}/simple/)`);
      } catch {
        console.log(line);
      }
    }
  });
  process.on('SIGINT', () => server.kill('SIGTERM'));
  server.on('close', (c) => process.exit(c ?? 0));
}
