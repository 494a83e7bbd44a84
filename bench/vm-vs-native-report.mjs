// Presentation of bench/vm-vs-native.mjs's measurements: medians, ratios to native, the issue's
// targets and whether each is met, as text tables and as one JSON document.

/** Median of the numbers (undefined for none). */
export const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/** The issue's targets for the accelerator in use (TCG here; KVM on paper). */
export function targetsFor(accelerator) {
  return accelerator === 'kvm' ? { auditRatio: 1.3, leaseMs: 50 } : { auditRatio: 5, leaseMs: 200 };
}

const sec = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
const times = (r) => (r === undefined ? '' : `${r.toFixed(1)}×`);

/**
 * One workload's runs summarised: per backend the median wall time of the audit and of each task,
 * and their ratios to native's medians. `runs[backend]` is a list of { totalMs, tasks: {id: ms}, order, result, tests }.
 */
export function summariseWorkload(runs) {
  const names = Object.keys(runs);
  const order = [];
  for (const n of names) for (const r of runs[n]) for (const id of r.order) if (!order.includes(id)) order.push(id);
  const native = runs.native;
  const nativeTotal = native ? median(native.map((r) => r.totalMs)) : undefined;
  const out = {};
  for (const n of names) {
    const totalMs = median(runs[n].map((r) => r.totalMs));
    const tasks = {};
    for (const id of order) {
      const ms = median(runs[n].map((r) => r.tasks[id]));
      const nat = native ? median(native.map((r) => r.tasks[id])) : undefined;
      tasks[id] = { ms, ratio: ms !== undefined && nat ? ms / nat : undefined };
    }
    const last = runs[n].at(-1);
    out[n] = {
      rounds: runs[n].length, totalMs, ratio: totalMs !== undefined && nativeTotal ? totalMs / nativeTotal : undefined, tasks,
      results: [...new Set(runs[n].map((r) => r.result))], tests: last?.tests,
    };
  }
  return { order, backends: out };
}

/** The per-task and total table of one workload, ratios to native beside each figure. */
export function workloadTable(title, summary) {
  const names = Object.keys(summary.backends);
  const col = 18;
  const lines = [title, `  ${'task'.padEnd(14)}${names.map((n) => n.padStart(col)).join('')}`];
  const cell = (ms, ratio, isNative) => `${sec(ms)}${isNative ? '' : ` ${times(ratio).padStart(6)}`}`.padStart(col);
  for (const id of summary.order) {
    lines.push(`  ${id.padEnd(14)}${names.map((n) => cell(summary.backends[n].tasks[id]?.ms, summary.backends[n].tasks[id]?.ratio, n === 'native')).join('')}`);
  }
  lines.push(`  ${'in all (wall)'.padEnd(14)}${names.map((n) => cell(summary.backends[n].totalMs, summary.backends[n].ratio, n === 'native')).join('')}`);
  lines.push(`  ${'result'.padEnd(14)}${names.map((n) => summary.backends[n].results.join('/').padStart(col)).join('')}`);
  if (names.some((n) => summary.backends[n].tests)) {
    lines.push(`  ${'tests passed'.padEnd(14)}${names.map((n) => { const t = summary.backends[n].tests; return (t ? `${t.passed}/${t.total}` : '—').padStart(col); }).join('')}`);
  }
  return lines.join('\n');
}

/** Whether each target is met: audits of the VM backends against native, lease-to-ready with and without the pool. */
export function targetChecks(workloads, lease, targets) {
  const checks = [];
  for (const w of workloads) {
    if (!w.summary) continue;
    for (const vm of ['qemu', 'libvirt']) {
      const b = w.summary.backends[vm];
      if (!b) continue;
      checks.push({ what: `${w.label}: ${vm} audit ≤ ${targets.auditRatio}× native`, value: b.ratio, shown: times(b.ratio), met: b.ratio !== undefined && b.ratio <= targets.auditRatio });
    }
  }
  for (const [vm, l] of Object.entries(lease)) {
    for (const mode of ['withoutPool', 'withPool']) {
      const m = l[mode];
      const label = `${vm} lease-to-ready ${mode === 'withPool' ? 'with' : 'without'} the pool ≤ ${targets.leaseMs / 1000} s`;
      if (!m || m.skipped || m.medianMs === undefined) checks.push({ what: label, shown: m?.skipped ? 'no pool' : 'n/a', met: null });
      else checks.push({ what: label, value: m.medianMs, shown: sec(m.medianMs), met: m.medianMs <= targets.leaseMs });
    }
  }
  return checks;
}

/** The lease-to-ready lines and the targets' lines. */
export function leaseAndTargetLines(lease, checks, targets, accelerator) {
  const lines = ['lease-to-ready: start() → the guest\'s hello (medians)'];
  if (!Object.keys(lease).length) lines.push('  no VM backend could run here');
  for (const [vm, l] of Object.entries(lease)) {
    const show = (m) => (!m || (!m.skipped && !m.samplesMs.length) ? 'not measured' : m.skipped ? `not available (${m.skipped})` : `${sec(m.medianMs)} (${m.samplesMs.length} leases: ${m.samplesMs.map((x) => (x / 1000).toFixed(2)).join(', ')} s)`);
    lines.push(`  ${vm.padEnd(8)} without the pool: ${show(l.withoutPool)}`);
    lines.push(`  ${''.padEnd(8)} with the pool:    ${l.withPool?.skipped ? `pool: ${l.withPool.skipped}` : show(l.withPool)}`);
  }
  lines.push(`targets (${accelerator ?? 'no VM'}: whole audit ≤ ${targets.auditRatio}× native, lease-to-ready ≤ ${targets.leaseMs / 1000} s)`);
  for (const c of checks) lines.push(`  ${c.what.padEnd(52)} ${String(c.shown).padStart(10)}   ${c.met === null ? 'not measured' : c.met ? 'met' : 'NOT met'}`);
  return lines.join('\n');
}
