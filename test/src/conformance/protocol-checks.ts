/** Conformance, protocol: the hello, a plan's streamed notifications, shutdown, and a clean end. */
import { createHash } from 'node:crypto';
import { PROTOCOL_VERSION, type TaskFinishedParams, type TaskRawParams } from '@pyti/vm-agent';
import { BLOB_BYTES, LARGE_INPUT, SHIM_PROBE_COMMAND } from './conformance-plans.js';
import type { ConformanceSessions } from './conformance-sessions.js';
import { notificationsOf, outputOf } from './protocol-recorder.js';

export function protocolChecks(s: ConformanceSessions): void {
  const timeout = s.budgetMs('protocol');

  it('declares an isolated, network-less guest with rollback; the hello carries the agent\'s capabilities', async () => {
    expect(s.backend.capabilities).toMatchObject({ network: 'none', rollback: true });
    expect(['namespaces', 'vm']).toContain(s.backend.capabilities.isolation);
    const { rec } = await s.protocol();
    expect(rec.error).toBeUndefined();
    const hello = rec.hello!;
    expect(hello.protocolVersion).toBe(PROTOCOL_VERSION);
    expect(hello.python).toMatch(/^3\.\d+\.\d+/);
    expect(hello.maxParallel).toBeGreaterThanOrEqual(s.scale.parallel);
    for (const tool of ['pip', 'build', 'pytest', 'coverage', 'pylint', 'pycodestyle']) expect(hello.tools[tool]).toMatch(/^\d/);
    for (const p of Object.values(hello.paths).flat()) expect(p).toMatch(/^\/./);
  }, timeout);

  it('runs a plan: every task streams started, then output and raw chunks, then finished, matching the run result', async () => {
    const { rec, plan } = await s.protocol();
    expect(rec.protocolErrors).toEqual([]);
    expect(rec.run!.tasks.map((t) => t.id)).toEqual(plan.tasks.map((t) => t.id));
    for (const task of plan.tasks) {
      const methods = notificationsOf(rec, task.id).map((n) => n.method);
      expect([task.id, methods[0], methods.at(-1)]).toEqual([task.id, 'task/started', 'task/finished']);
      expect(methods.filter((m) => m === 'task/started' || m === 'task/finished')).toHaveLength(2);
      const finished = notificationsOf(rec, task.id).at(-1)!.params as TaskFinishedParams;
      expect(finished.result).toEqual(rec.run!.tasks.find((t) => t.id === task.id));
    }
    const echo = notificationsOf(rec, 'protocol-echo');
    const streams = echo.filter((n) => n.method === 'task/output').map((n) => (n.params as { stream: string }).stream);
    expect(streams).toEqual(expect.arrayContaining(['stdout', 'stderr']));
    expect(outputOf(rec, 'protocol-echo')).toMatch(/to-stdout\n[^]*to-stderr\n|to-stderr\n[^]*to-stdout\n/);
    expect((echo.at(-1)!.params as TaskFinishedParams).result).toMatchObject({ status: 'pass', exitCode: 0, rawFiles: ['blob.bin'] });
  }, timeout);

  it('answers a ping at once while a plan runs, naming the task that is running', async () => {
    const { rec } = await s.protocol();
    expect(rec.ping).toEqual({ running: expect.arrayContaining(['linger']) });
  }, timeout);

  it('carries a raw file larger than one chunk intact: chunks in order, one final, the guest\'s sha256', async () => {
    const { rec } = await s.protocol();
    const chunks = notificationsOf(rec, 'protocol-echo').filter((n) => n.method === 'task/raw').map((n) => n.params as TaskRawParams);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    let offset = 0;
    const parts: Buffer[] = [];
    for (const c of chunks) {
      expect([c.name, c.offset]).toEqual(['blob.bin', offset]);
      const bytes = Buffer.from(c.data, 'base64');
      offset += bytes.length;
      parts.push(bytes);
    }
    expect(chunks.map((c) => c.final)).toEqual([...chunks.slice(1).map(() => false), true]);
    expect(offset).toBe(BLOB_BYTES);
    const sha = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    expect(outputOf(rec, 'protocol-echo')).toContain(`${sha}  `);
  }, timeout);

  it('gives the guest a large input intact (40 MiB: more than a warm template\'s input disk held at its boot)', async () => {
    const { rec, largeInputSha256 } = await s.protocol();
    expect(outputOf(rec, 'input-large')).toContain(`${largeInputSha256}  `);
    expect(outputOf(rec, 'input-large')).toContain(`/${LARGE_INPUT.name}`);
  }, timeout);

  it('the Windows program shims run from {shims}: powershell -enc logs its command, decoded, and exits 0', async () => {
    const { rec } = await s.protocol();
    expect(rec.run!.tasks.find((t) => t.id === 'shim-probe')!.status).toBe('pass');
    const log = Buffer.concat(notificationsOf(rec, 'shim-probe').filter((n) => n.method === 'task/raw')
      .map((n) => n.params as TaskRawParams).filter((p) => p.name === 'shims.jsonl').map((p) => Buffer.from(p.data, 'base64'))).toString();
    expect(JSON.parse(log.trim().split('\n')[0]!)).toMatchObject({ shim: 'powershell', decoded: SHIM_PROBE_COMMAND });
  }, timeout);

  it('answers shutdown, then the sandbox ends on its own with status 0 and dispose() leaves no process behind', async () => {
    const session = await s.protocol();
    const { rec } = session;
    expect(rec.shutdown).toEqual({ ok: true });
    expect(rec.endedOnItsOwn).toEqual({ code: 0, signal: null });
    expect(rec.exitedAfterDispose).toBe(true);
    expect(rec.run!.tasks.find((t) => t.id === 'linger')!.status).toBe('pass');
    // The check below is only worth something if the session's processes could be seen at all.
    expect(session.seen.length).toBeGreaterThan(0);
    expect(session.leftovers).toEqual([]);
    expect(session.exited).toBe(true);
  }, timeout);
}
