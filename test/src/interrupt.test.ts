/**
 * An interrupted `pyti audit` leaves nothing behind: no job directory (overlay, input disk,
 * sockets), no sandbox or VM process. Run against the bubblewrap and the QEMU backends.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BwrapBackend, QemuBackend, type Backend } from '@pyti/slave';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

const bin = new URL('../../bin/pyti.mjs', import.meta.url).pathname;
const jobDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('pyti-job-'));
const processesOf = (dirs: string[]): string[] => {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n');
  return ps.filter((l) => dirs.some((d) => l.includes(d)));
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-interrupt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cases: [string, Backend][] = [['bwrap', new BwrapBackend()], ['qemu', new QemuBackend()]];

describe.each(cases)('interrupting an audit (%s)', (name, backend) => {
  it('with SIGINT while the guest runs tasks: exit 130, no job directory, no process left', async () => {
    const why = await backend.probe();
    if (why) {
      process.stderr.write(`interrupt test for ${name} skipped: ${why}\n`);
      return;
    }
    const dist = buildFixture('pyti-sample', 'sdist');
    const wheels = makeWheelhouse(join(dir, `wheels-${name}`), ['pyti-helper']);
    const before = jobDirs();
    const child = spawn(process.execPath, [bin, 'audit', dist, '--wheelhouse', wheels, '--out', join(dir, `out-${name}`), '--backend', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const started = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/build started/.test(err)) resolve();
      });
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await Promise.race([started, exited]);
    const during = jobDirs().filter((d) => !before.includes(d));
    expect(during).toHaveLength(1); // the job was running
    expect(processesOf(during).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(err).toContain('interrupted by SIGINT');
    // The VM or sandbox dies with its parent: give the kernel a moment to reap it.
    for (let i = 0; i < 50 && processesOf(during).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesOf(during)).toEqual([]);
    expect(jobDirs().filter((d) => !before.includes(d))).toEqual([]);
  });
});
