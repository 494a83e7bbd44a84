/**
 * A QEMU audit runs the static tasks (inspect, lint, style) in the host's bubblewrap sandbox beside
 * the guest, and everything that runs the package in the guest, as one plan and one report: the
 * report says where each task ran, and inspect, lint and style give what a bwrap audit gives. Skipped
 * (with the reason printed) where QEMU cannot run. Boots a VM: run under the VM lock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditDistribution, BwrapBackend, QemuBackend, type AuditOutcome, type AuditProgress } from '@pyti/slave';
import type { AuditReport } from '@pyti/common';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

const STATIC = ['inspect', 'lint', 'style'];
/** What inspect, lint and style put in a report. */
const staticResults = (r: AuditReport): Record<string, unknown> => ({
  distribution: { name: r.distribution.name, version: r.distribution.version, summary: r.distribution.summary, requiresDist: r.distribution.requiresDist },
  lint: r.lint && { score: r.lint.score, counts: r.lint.counts, messages: r.lint.messages.map((m) => `${m.path}:${m.line}:${m.symbol}`).sort() },
  style: r.style && { total: r.style.total, byCode: r.style.byCode },
  build: r.build?.mode,
});

describe('a QEMU audit with the static tasks on the host', () => {
  let dir: string;
  let qemu: AuditOutcome | undefined;
  let bwrap: AuditOutcome;
  const progress: AuditProgress[] = [];
  let why: string | null = null;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-vm-static-'));
    const dist = buildFixture('pyti-sample', 'sdist');
    const backend = new QemuBackend();
    why = await backend.probe();
    if (why) {
      process.stderr.write(`skipped: qemu cannot run here: ${why}\n`);
      return;
    }
    qemu = await auditDistribution({
      distPath: dist, wheelhouse: makeWheelhouse(join(dir, 'wh-q'), ['pyti-helper']), outDir: join(dir, 'qemu'), backend, onProgress: (p) => progress.push(p),
    });
    bwrap = await auditDistribution({ distPath: dist, wheelhouse: makeWheelhouse(join(dir, 'wh-b'), ['pyti-helper']), outDir: join(dir, 'bwrap'), backend: new BwrapBackend() });
  }, 15 * 60 * 1000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes, with inspect, lint and style reported as run on the host and every other task in the guest', () => {
    if (why) return;
    const r = qemu!.report;
    expect(r).toMatchObject({ result: 'pass', verdict: 'clean' });
    expect(r.backend).toMatchObject({ name: 'qemu', isolation: 'vm' });
    expect(r.tasks.map((t) => [t.id, t.status])).toEqual(bwrap.report.tasks.map((t) => [t.id, 'pass']));
    for (const t of r.tasks) expect([t.id, t.where]).toEqual([t.id, STATIC.includes(t.id) ? 'host-bwrap' : 'guest']);
    // The bwrap audit ran everything in its one sandbox.
    expect(bwrap.report.tasks.every((t) => t.where === 'guest')).toBe(true);
  });

  it('gives the same inspect, lint and style results as a bwrap audit', () => {
    if (why) return;
    expect(staticResults(qemu!.report)).toEqual(staticResults(bwrap.report));
    expect(qemu!.report.lint!.messages.length).toBeGreaterThan(0);
    // The guest's build and tests used the source and metadata the host's inspect gave it.
    expect(qemu!.report.tests).toMatchObject({ total: 4, passed: 4 });
    expect(qemu!.report.install!.installed!.map((i) => i.name).sort()).toEqual(['pyti-helper', 'pyti-sample']);
  });

  it('reports the progress of the tasks of both sandboxes', () => {
    if (why) return;
    const started = progress.filter((p) => p.kind === 'task-started').map((p) => (p as { id: string }).id);
    const finished = progress.filter((p) => p.kind === 'task-finished').map((p) => (p as { id: string }).id);
    for (const id of qemu!.report.tasks.map((t) => t.id)) {
      expect(started).toContain(id);
      expect(finished).toContain(id);
    }
    // inspect ended before the guest was started: the guest needed its data.
    const kinds = progress.map((p) => (p.kind === 'task-finished' ? `finished:${p.id}` : p.kind));
    expect(kinds.indexOf('finished:inspect')).toBeLessThan(kinds.indexOf('sandbox-started'));
    expect(kinds.indexOf('sandbox-started')).toBeLessThan(kinds.indexOf('guest-ready'));
  });
});
