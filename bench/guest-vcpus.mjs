// Measures the same audit of the bundled sample in QEMU guests of 1 and 2 vCPUs (TCG here), for the
// whole plan and for the plan without lint and style (the tasks that move to the host's bubblewrap),
// alternated; prints each run's wall time and per-task times. Run under `flock /work/wt/vm.lock`.
// Usage: node bench/guest-vcpus.mjs [rounds]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as slave from '../slave/dist/index.js';
import { buildFixture, makeWheelhouse } from '../test/dist/index.js';

const rounds = Number(process.argv[2] ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-vcpus-'));
const dist = buildFixture('pyti-sample', 'sdist');
const wheels = makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']);
const results = [];
try {
  for (let i = 0; i < rounds; i++) {
    for (const skip of [[], ['lint', 'style']]) {
      for (const cpus of [1, 2]) {
        const backend = new slave.QemuBackend({ cpus });
        const t0 = Date.now();
        const { report } = await slave.auditDistribution({ distPath: dist, wheelhouse: wheels, outDir: join(dir, `r${i}-${cpus}-${skip.length}`), backend, skip });
        const ms = Date.now() - t0;
        const tasks = Object.fromEntries(report.tasks.map((t) => [t.id, t.durationMs]));
        results.push({ cpus, skip: skip.join(',') || '-', ms, result: report.result, tasks });
        process.stderr.write(`${cpus} vCPU skip=${skip.join(',') || '-'}: ${(ms / 1000).toFixed(1)} s (${report.result}) ${JSON.stringify(tasks)}\n`);
      }
    }
  }
  console.log(JSON.stringify(results, null, 1));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
