// Benchmark: the same audit of the bundled sample, natively (a plain chroot of the same root
// filesystem, no isolation) and in the bubblewrap sandbox, alternated in one run; prints medians
// per task and in all, and the sandbox/native ratios. Usage: node bench/sandbox-vs-native.mjs [rounds]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, ChrootBackend } from '../slave/dist/index.js';
import { buildFixture, makeWheelhouse } from '../test/dist/index.js';

const rounds = Number(process.argv[2] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-'));
const dist = buildFixture('pyti-sample', 'sdist');
const wheels = makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']);
const backends = { native: new ChrootBackend(), bwrap: new BwrapBackend() };
const times = { native: [], bwrap: [] };
const taskTimes = { native: {}, bwrap: {} };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  for (let i = 0; i < rounds; i++) {
    for (const [name, backend] of Object.entries(backends)) {
      const t0 = process.hrtime.bigint();
      const { report } = await auditDistribution({ distPath: dist, wheelhouse: wheels, outDir: join(dir, `${name}-${i}`), backend, parallel: 1 });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (report.result !== 'pass') throw new Error(`${name} audit did not pass: ${report.result}`);
      times[name].push(ms);
      for (const t of report.tasks) (taskTimes[name][t.id] ??= []).push(t.durationMs);
      process.stderr.write(`round ${i + 1}/${rounds} ${name}: ${(ms / 1000).toFixed(2)} s\n`);
    }
  }
  console.log(`sandbox-vs-native: ${rounds} rounds of the same audit (pyti-sample, parallel 1), medians`);
  console.log(`${'step'.padEnd(10)} ${'native'.padStart(9)} ${'bwrap'.padStart(9)} ${'ratio'.padStart(7)}`);
  for (const id of Object.keys(taskTimes.native)) {
    const n = median(taskTimes.native[id]);
    const b = median(taskTimes.bwrap[id]);
    console.log(`${id.padEnd(10)} ${(n / 1000).toFixed(2).padStart(8)}s ${(b / 1000).toFixed(2).padStart(8)}s ${(b / n).toFixed(3).padStart(7)}`);
  }
  const n = median(times.native);
  const b = median(times.bwrap);
  console.log(`${'whole'.padEnd(10)} ${(n / 1000).toFixed(2).padStart(8)}s ${(b / 1000).toFixed(2).padStart(8)}s ${(b / n).toFixed(3).padStart(7)}   (sandbox overhead ${((b / n - 1) * 100).toFixed(1)} %)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
