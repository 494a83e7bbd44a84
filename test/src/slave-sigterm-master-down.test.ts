/**
 * `pyti slave` ends promptly on SIGTERM while its master is down (bin/pyti.mjs, built code, a real
 * process): with no master ever listening, and with a master that went away after the slave
 * registered while a finished result waits in the outbox (it stays there for the next start).
 */
import { jest } from '@jest/globals';
import { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMasterApp, loadMasterConfig } from '@pyti/master';
import { Outbox } from '@pyti/slave';
import { TestChild } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const S1 = 'slave1-token-0123456789';
/** "Promptly": the drain's calls give up after 3 s; node's start and teardown need the rest. */
const PROMPT_MS = 8000;

jest.setTimeout(120_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-slave-sigterm-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function startSlave(masterUrl: string, data: string): TestChild {
  return new TestChild('slave', process.execPath, [join(ROOT, 'bin/pyti.mjs'), 'slave', '--master', masterUrl, '--index-url', 'http://index.invalid', '--data', data], { env: { PYTI_SLAVE_TOKEN: S1 } });
}

/** Sends SIGTERM and resolves to the exit status and how long the exit took. */
async function terminate(child: TestChild): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  child.proc.kill('SIGTERM');
  const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref());
  const ended = await Promise.race([child.exited, timeout]);
  if (ended === 'hung') throw new Error(`the slave did not exit within 30 s of SIGTERM; last lines:\n${child.lines.slice(-20).join('\n')}`);
  return { code: ended.code, ms: Date.now() - t0 };
}

describe('pyti slave: SIGTERM while the master is down', () => {
  it('exits 0 within seconds when no master ever answered (it was retrying its registration)', async () => {
    const port = await closedPort();
    const child = startSlave(`http://127.0.0.1:${port}`, join(dir, 'never'));
    try {
      await child.waitForLine(/slave\.register: .*ECONNREFUSED.*retrying/, 60_000);
      await new Promise((r) => setTimeout(r, 1500)); // well into the backoff
      const { code, ms } = await terminate(child);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(PROMPT_MS);
      expect(child.lines.some((l) => /SIGTERM: draining/.test(l))).toBe(true);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('exits 0 within seconds when the master went away after registration, keeping an undelivered result in the outbox', async () => {
    const data = join(dir, 'went-away');
    const config = loadMasterConfig({ data: join(dir, 'm'), port: 0, leaseMs: 20_000, heartbeatMs: 500, maxWaitMs: 1000, slaveToken: [`s1:${S1}`], follow: false }, { PYTI_USER_TOKEN: 'user-token-0123456789' });
    const master = await buildMasterApp(config, { sweepIntervalMs: 0 });
    const url = await master.listen();
    const child = startSlave(url, data);
    try {
      await child.waitForLine(/registered with .* as s1/, 60_000);
      await master.close();
      // The slave notices: its long-poll or heartbeat fails and it keeps retrying.
      await child.waitForLine(/master: (jobs\.lease|slave\.heartbeat): .*retrying/, 30_000);
      // A result finished during the outage (an infrastructure error outcome, no report), put in the
      // slave's outbox in one rename (written beside it first, so the slave never sees half an entry).
      const staged = new Outbox(join(dir, 'staging'));
      staged.add({ leaseId: 'lease-kept-1', jobId: 'job-kept-1', outcome: { kind: 'error', code: 'PYTI_SLAVE_FAILED', message: 'disk', retry: true } });
      const [entry] = readdirSync(staged.dir);
      renameSync(join(staged.dir, entry!), join(data, 'outbox', entry!));
      const { code, ms } = await terminate(child);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(PROMPT_MS);
      expect(child.lines.some((l) => /drained; 1 result\(s\) kept in the outbox for the next start/.test(l))).toBe(true);
      expect(new Outbox(data).leaseIds()).toEqual(['lease-kept-1']);
    } finally {
      child.proc.kill('SIGKILL');
      await master.close();
    }
  });
});
