/**
 * The QMP client never waits for ever: against a stand-in QEMU on a UNIX socket that greets,
 * answers some commands and then goes silent, an unanswered command fails after its timeout, the
 * connection is closed, and every later command fails at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from './qmp.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-qmp-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in QEMU: greets (unless told not to), answers `query-status`, ignores everything else. */
async function standIn(path: string, greet = true): Promise<net.Server> {
  const server = net.createServer((c) => {
    if (greet) c.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`);
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const { execute } = JSON.parse(buf.slice(0, nl)) as { execute: string };
        buf = buf.slice(nl + 1);
        if (execute === 'qmp_capabilities') c.write(`${JSON.stringify({ return: {} })}\n`);
        if (execute === 'query-status') c.write(`${JSON.stringify({ event: 'RESUME' })}\n${JSON.stringify({ return: { status: 'running' } })}\n`);
      }
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

describe('QMP client', () => {
  it('answers commands, then fails an unanswered one after its timeout and every later one at once', async () => {
    const path = join(dir, 'qmp.sock');
    const server = await standIn(path);
    const qmp = await QmpClient.connect(path);
    await expect(qmp.execute('query-status')).resolves.toEqual({ status: 'running' });
    const t0 = Date.now();
    await expect(qmp.execute('migrate-incoming', { uri: 'fd:3' }, 300)).rejects.toThrow(/QMP migrate-incoming: no answer from QEMU within 0.3 s/);
    expect(Date.now() - t0).toBeLessThan(2000);
    await expect(qmp.execute('query-status')).rejects.toThrow(/closed/);
    qmp.close();
    server.close();
  });

  it('a QEMU that never greets fails the connection after the timeout', async () => {
    const path = join(dir, 'mute.sock');
    const server = await standIn(path, false);
    await expect(QmpClient.connect(path, 300)).rejects.toThrow(/QMP greeting: no answer/);
    server.close();
  });
});
