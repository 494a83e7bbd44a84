// Benchmark: boot-to-hello of the VM backends, and the wall time of the same audit of the bundled
// sample natively (a plain chroot of the same root filesystem), in bubblewrap and in the VM (QEMU,
// and libvirt when it can run here), alternated in one run; prints medians and ratios to native.
// Usage: node bench/vm-vs-native.mjs [audit rounds] [boot rounds]
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as slave from '../slave/dist/index.js';
import { buildFixture, makeWheelhouse } from '../test/dist/index.js';

const rounds = Number(process.argv[2] ?? 1);
const bootRounds = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-vm-'));
const dist = buildFixture('pyti-sample', 'sdist');
const wheels = makeWheelhouse(join(dir, 'wheels'), ['pyti-helper']);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const backends = { native: new slave.ChrootBackend(), bwrap: new slave.BwrapBackend(), qemu: new slave.QemuBackend() };
if (slave.LibvirtBackend) backends.libvirt = new slave.LibvirtBackend();
for (const [name, b] of Object.entries(backends)) {
  const why = await b.probe();
  if (why) {
    console.log(`${name}: skipped (${why})`);
    delete backends[name];
  }
}

try {
  // Boot to hello: start the VM (disks prepared, VM started or restored), the agent's answer to
  // initialize; then a no-op task and shutdown.
  const boot = {};
  for (const name of Object.keys(backends).filter((n) => backends[n].capabilities.isolation === 'vm')) {
    boot[name] = [];
    for (let i = 0; i < bootRounds; i++) {
      const jobDir = join(dir, `boot-${name}-${i}`);
      mkdirSync(join(jobDir, 'input'), { recursive: true });
      const t0 = process.hrtime.bigint();
      const inst = await backends[name].start({
        inputDir: join(jobDir, 'input'), wheelhouse: wheels, agentDir: new URL('../vm-agent/bundle/', import.meta.url).pathname,
        tasksDir: new URL('../tasks/guest/', import.meta.url).pathname, rootfs: '', jobDir,
      });
      const startMs = Number(process.hrtime.bigint() - t0) / 1e6; // disks prepared, VM process started
      const limits = { wallSeconds: 60, noOutputSeconds: 60, cpuSeconds: 60, memoryBytes: 1e9, processes: 16, outputBytes: 1e6 };
      const plan = { parallel: 1, tasks: [{ id: 'noop', title: 'noop', dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['true'] }] };
      const session = await slave.runAgentSession(inst, plan);
      if (!session.hello) throw new Error(`${name}: no hello: ${JSON.stringify(session.infraError)}`);
      boot[name].push(startMs + session.bootMs);
      process.stderr.write(`boot ${name} ${i + 1}/${bootRounds}: ${(boot[name].at(-1) / 1000).toFixed(2)} s to hello\n`);
    }
  }
  const times = Object.fromEntries(Object.keys(backends).map((n) => [n, []]));
  for (let i = 0; i < rounds; i++) {
    for (const [name, backend] of Object.entries(backends)) {
      const t0 = process.hrtime.bigint();
      const { report } = await slave.auditDistribution({ distPath: dist, wheelhouse: wheels, outDir: join(dir, `${name}-${i}`), backend });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (report.result !== 'pass') throw new Error(`${name} audit did not pass: ${report.result}`);
      times[name].push(ms);
      process.stderr.write(`audit ${name} ${i + 1}/${rounds}: ${(ms / 1000).toFixed(1)} s\n`);
    }
  }
  console.log(`vm-vs-native: the same audit of pyti-sample, ${rounds} round(s), medians (accelerator: ${backends.qemu?.capabilities.accelerator ?? 'n/a'})`);
  for (const [name, xs] of Object.entries(boot)) console.log(`  boot to hello  ${name.padEnd(8)} ${(median(xs) / 1000).toFixed(2)} s  (${bootRounds} boots)`);
  const native = median(times.native);
  for (const [name, xs] of Object.entries(times)) {
    if (!xs.length) continue;
    console.log(`  audit          ${name.padEnd(8)} ${(median(xs) / 1000).toFixed(1).padStart(6)} s  ${(median(xs) / native).toFixed(2)}× native`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
