// Benchmark: lease-to-ready (start() to the agent's hello) of the VM backends without and with the
// pool of ready guests. With the pool, each start comes after `await backend.poolReady()` (a lease
// that arrives when the pool is full, as between jobs once the refill has finished). Each ready guest
// then runs a no-op task and shuts down. Prints every round and the medians, and where a pooled
// lease's time goes: the claim (host: writing the job's input disk, the rest of start()), and the
// initialize round trip (guest: attaching the input disk and setting the clock, from the agent's
// console line; the rest: the channel, the agent's answer). Run under the VM lock.
// Usage: node bench/vm-pool.mjs [rounds] [qemu|libvirt ...]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as slave from '../slave/dist/index.js';
import { ensureAgentBundle } from '../images/dist/index.js';

const rounds = Number(process.argv[2] ?? 3);
const only = process.argv.slice(3);
const dir = mkdtempSync(join(tmpdir(), 'pyti-bench-pool-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const agentDir = await ensureAgentBundle(); // the bundle the pool's guests run (poolReady uses it too)
const tasksDir = new URL('../tasks/guest/', import.meta.url).pathname;
const limits = { wallSeconds: 60, noOutputSeconds: 60, cpuSeconds: 60, memoryBytes: 1e9, processes: 16, outputBytes: 1e6 };
const plan = { parallel: 1, tasks: [{ id: 'noop', title: 'noop', dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['true'] }] };
const makers = {
  qemu: (pool) => new slave.QemuBackend({ pool }),
  libvirt: (pool) => new slave.LibvirtBackend({ pool }),
};
const results = {};
/** label → { disk, claimRest, attach, helloRest } per round (pooled starts only). */
const parts = {};
const consoleMs = (text, re) => {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
};
try {
  for (const [name, make] of Object.entries(makers)) {
    if (only.length && !only.includes(name)) continue;
    const why = await make(0).probe();
    if (why) {
      console.log(`${name}: skipped (${why})`);
      continue;
    }
    for (const pool of [0, 1]) {
      const backend = make(pool);
      await backend.probe();
      const label = `${name} ${pool ? 'with pool' : 'no pool'}`;
      results[label] = [];
      if (pool) parts[label] = [];
      try {
        for (let i = -1; i < rounds; i++) { // round -1 warms up (template build, caches); not counted
          await backend.poolReady();
          const jobDir = join(dir, `${name}-${pool}-${i}`);
          mkdirSync(join(jobDir, 'input'), { recursive: true });
          const t0 = process.hrtime.bigint();
          const inst = await backend.start({ inputDir: join(jobDir, 'input'), wheelhouse: join(jobDir, 'input'), agentDir, tasksDir, rootfs: '', jobDir });
          const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
          const s = await slave.runAgentSession(inst, plan);
          if (!s.hello) throw new Error(`${label}: no hello: ${JSON.stringify(s.infraError)}`);
          if (pool && !s.console.includes('taken from the guest pool')) throw new Error(`${label}: the start did not take the waiting guest`);
          if (i < 0) continue;
          results[label].push(startMs + s.bootMs);
          let detail = '';
          if (pool) {
            const disk = consoleMs(s.console, /input disk written in (\d+) ms/);
            const attach = consoleMs(s.console, /job attached in ([\d.]+) ms/);
            const p = { disk, claimRest: startMs - disk, attach, helloRest: s.bootMs - attach };
            parts[label].push(p);
            detail = ` (input disk ${disk} ms, rest of start ${p.claimRest.toFixed(0)} ms; guest attach ${attach.toFixed(0)} ms, rest of hello ${p.helloRest.toFixed(0)} ms)`;
          }
          process.stderr.write(`${label} ${i + 1}/${rounds}: start ${startMs.toFixed(0)} ms + hello ${s.bootMs} ms = ${(startMs + s.bootMs).toFixed(0)} ms${detail}\n`);
        }
      } finally {
        await backend.closePool();
      }
    }
  }
  console.log('\nlease-to-ready (start() to hello), median ms:');
  for (const [label, xs] of Object.entries(results)) console.log(`  ${label.padEnd(20)} ${median(xs).toFixed(0)} ms  (${xs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log('\nwhere a pooled lease goes, median ms:');
  for (const [label, ps] of Object.entries(parts)) {
    const m = (k) => median(ps.map((p) => p[k])).toFixed(0);
    console.log(`  ${label.padEnd(20)} host: input disk ${m('disk')}, rest of start() ${m('claimRest')}; initialize: guest attach + clock ${m('attach')}, channel and answer ${m('helloRest')}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
