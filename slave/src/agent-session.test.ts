/**
 * The host never trusts what comes out of a guest: a scripted hostile "agent" on an in-memory
 * channel sends malformed, oversized, forged and out-of-order messages; each ends the job as an
 * infrastructure error of the right kind, with evidence, and the sandbox is disposed of.
 */
import { createInMemoryPair, StreamMessageReader, type Plan } from '@pyti/vm-agent';
import { PassThrough } from 'node:stream';
import { runAgentSession, DEFAULT_SESSION_LIMITS, type SessionLimits } from './agent-session.js';
import type { SandboxInstance } from './backends/backend.js';

const HELLO = {
  protocolVersion: 1, agentVersion: '0.1.0', python: '3.11.2', platform: 'linux', machine: 'x86_64', tools: {}, maxParallel: 8,
  paths: { home: '/home/pyti', work: '/work', input: '/input', wheelhouse: '/wheelhouse', tmp: '/tmp' },
};
const LIMITS = { cpuSeconds: 10, wallSeconds: 10, noOutputSeconds: 10, memoryBytes: 1e8, processes: 10, outputBytes: 1e6 };
const PLAN: Plan = { parallel: 1, tasks: [{ id: 'a', title: 'a', dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits: LIMITS, command: ['true'] }] };
const RESULT = { id: 'a', status: 'pass', exitCode: 0, signal: null, startedAt: 1, durationMs: 1, cpuMs: 1, peakMemoryBytes: 1, peakProcesses: 1, outputBytes: 0, outputTail: '', rawFiles: [] };

type Send = (line: string) => void;
interface Script {
  initialize?: (id: number, send: Send) => void;
  run?: (id: number, send: Send) => void;
  wake?: (send: Send) => void;
  ping?: (id: number, send: Send) => void;
}

/** A fake guest: answers requests by the script; `send` writes raw lines onto the channel. */
function hostileGuest(script: Script, readerMax?: number): { instance: SandboxInstance; disposed: () => boolean } {
  const { a, b } = createInMemoryPair();
  const send: Send = (line) => b.raw.out.write(`${line}\n`);
  const reply = (id: number, result: unknown): void => send(JSON.stringify({ jsonrpc: '2.0', id, result }));
  b.reader.listen((line) => {
    const msg = JSON.parse(line) as { id: number; method: string };
    if (msg.method === 'initialize') (script.initialize ?? ((id) => reply(id, HELLO)))(msg.id, send);
    else if (msg.method === 'run') script.run?.(msg.id, send);
    else if (msg.method === 'shutdown') reply(msg.id, { ok: true });
    else if (msg.method === 'host/wake') script.wake?.(send);
    else if (msg.method === 'ping') script.ping?.(msg.id, send);
  }, () => undefined, () => undefined);
  let disposed = false;
  let exit!: (v: { code: number | null; signal: string | null }) => void;
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => (exit = r));
  const reader = readerMax ? new StreamMessageReader(a.raw.in as PassThrough, readerMax) : a.reader;
  return {
    instance: {
      reader, writer: a.writer, console: () => 'console text', exited,
      dispose: async () => {
        disposed = true;
        exit({ code: 0, signal: null });
      },
    },
    disposed: () => disposed,
  };
}

const notify = (method: string, params: unknown): string => JSON.stringify({ jsonrpc: '2.0', method, params });
const limits = (l: Partial<SessionLimits>): SessionLimits => ({ ...DEFAULT_SESSION_LIMITS, ...l });

describe('agent session against a hostile guest', () => {
  it('a well-behaved guest: hello, raw data, result', async () => {
    const g = hostileGuest({
      run: (id, send) => {
        send(notify('task/started', { id: 'a', startedAt: 1 }));
        send(notify('task/raw', { id: 'a', name: 'x.txt', offset: 0, data: Buffer.from('hi').toString('base64'), final: true }));
        send(notify('task/finished', { result: RESULT }));
        send(JSON.stringify({ jsonrpc: '2.0', id, result: { verdict: 'pass', tasks: [RESULT], durationMs: 5 } }));
      },
    });
    const o = await runAgentSession(g.instance, PLAN);
    expect(o.infraError).toBeUndefined();
    expect(o.raw.get('a')?.get('x.txt')?.toString()).toBe('hi');
    expect(o.run?.verdict).toBe('pass');
    expect(o.console).toBe('console text');
    expect(g.disposed()).toBe(true);
  });

  it.each([
    ['malformed JSON', (_id: number, send: Send) => send('{"jsonrpc":"2.0", nope'), /malformed message/, 'nope'],
    ['a task the plan does not have', (_id: number, send: Send) => send(notify('task/output', { id: 'forged', stream: 'stdout', text: 'x' })), /task\/output/, 'forged'],
    ['a raw chunk out of order', (_id: number, send: Send) => send(notify('task/raw', { id: 'a', name: 'x', offset: 5, data: '', final: false })), /out of order/, '"offset":5'],
    ['a raw file name with a path', (_id: number, send: Send) => send(notify('task/raw', { id: 'a', name: '../../etc/passwd', offset: 0, data: '', final: true })), /task\/raw/, 'etc/passwd'],
    ['a forged run result', (id: number, send: Send) => send(JSON.stringify({ jsonrpc: '2.0', id, result: { verdict: 'pass', tasks: [{ ...RESULT, id: 'forged' }], durationMs: 5 } })), /unknown task id "forged"/, undefined],
    ['a notification of the wrong shape', (_id: number, send: Send) => send(notify('task/finished', { result: { id: 'a', status: 'owned' } })), /task\/finished/, 'owned'],
  ])('%s ends the job as error:sandbox-protocol with evidence', async (_name, run, message, evidence) => {
    const g = hostileGuest({ run });
    const o = await runAgentSession(g.instance, PLAN, limits({ jobSeconds: 10 }));
    expect(o.infraError?.kind).toBe('error:sandbox-protocol');
    expect(o.infraError?.message).toMatch(message);
    if (evidence) expect(o.infraError?.evidence).toContain(evidence);
    expect(g.disposed()).toBe(true);
  });

  it('a quiet channel gets host/wake while the plan runs: a guest stuck writing until data arrives resumes', async () => {
    let runId = -1;
    let wakes = 0;
    const g = hostileGuest({
      run: (id) => {
        runId = id; // says nothing: as a guest writer waiting for an interrupt it missed
      },
      wake: (send) => {
        if (wakes++) return;
        send(notify('task/finished', { result: RESULT }));
        send(JSON.stringify({ jsonrpc: '2.0', id: runId, result: { verdict: 'pass', tasks: [RESULT], durationMs: 5 } }));
      },
    });
    const o = await runAgentSession(g.instance, PLAN);
    expect(o.infraError).toBeUndefined();
    expect(o.run?.verdict).toBe('pass');
    expect(wakes).toBe(1);
  });

  it('raw data beyond the per-file cap is a protocol violation', async () => {
    const chunk = Buffer.alloc(600).toString('base64');
    const g = hostileGuest({
      run: (_id, send) => {
        send(notify('task/raw', { id: 'a', name: 'big', offset: 0, data: chunk, final: false }));
        send(notify('task/raw', { id: 'a', name: 'big', offset: 600, data: chunk, final: false }));
      },
    });
    const o = await runAgentSession(g.instance, PLAN, limits({ maxRawBytesPerFile: 1000, jobSeconds: 10 }));
    expect(o.infraError).toMatchObject({ kind: 'error:sandbox-protocol', message: expect.stringContaining('exceeds 1000 bytes') });
  });

  it('an oversized message is a protocol violation', async () => {
    const g = hostileGuest({ run: (_id, send) => send(notify('task/output', { id: 'a', stream: 'stdout', text: 'x'.repeat(5000) })) }, 2048);
    const o = await runAgentSession(g.instance, PLAN, limits({ jobSeconds: 10 }));
    expect(o.infraError).toMatchObject({ kind: 'error:sandbox-protocol', message: expect.stringContaining('larger than 2048 bytes') });
  });

  it('a hello of the wrong shape is refused', async () => {
    const g = hostileGuest({ initialize: (id, send) => send(JSON.stringify({ jsonrpc: '2.0', id, result: { ...HELLO, paths: 'nope' } })) });
    const o = await runAgentSession(g.instance, PLAN, limits({ jobSeconds: 10 }));
    expect(o.infraError?.kind).toBe('error:sandbox-protocol');
    expect(o.hello).toBeUndefined();
  });

  it('a guest that never says hello is a boot timeout; one that never finishes, a job timeout', async () => {
    const silent = hostileGuest({ initialize: () => undefined });
    expect((await runAgentSession(silent.instance, PLAN, limits({ bootSeconds: 1, jobSeconds: 30 }))).infraError?.kind).toBe('error:boot-timeout');
    const stuck = hostileGuest({ run: () => undefined });
    expect((await runAgentSession(stuck.instance, PLAN, limits({ jobSeconds: 1 }))).infraError?.kind).toBe('error:job-timeout');
    expect(silent.disposed() && stuck.disposed()).toBe(true);
  });

  it('a quiet guest that answers pings runs on; one that stops answering is unresponsive, with what it last said was running', async () => {
    const runResult = (id: number): string => JSON.stringify({ jsonrpc: '2.0', id, result: { verdict: 'pass', tasks: [RESULT], durationMs: 5 } });
    let pings = 0;
    const alive = hostileGuest({
      run: (id, send) => {
        send(notify('task/started', { id: 'a', startedAt: 1 }));
        setTimeout(() => {
          send(notify('task/finished', { result: RESULT }));
          send(runResult(id));
        }, 3000); // 3 s of silence but for pings, against 1 s without an answer
      },
      ping: (id, send) => {
        pings++;
        send(JSON.stringify({ jsonrpc: '2.0', id, result: { running: ['a'] } }));
      },
    });
    const ok = await runAgentSession(alive.instance, PLAN, limits({ unresponsiveSeconds: 1, jobSeconds: 30 }));
    expect(ok.infraError).toBeUndefined();
    expect(ok.run?.verdict).toBe('pass');
    expect(pings).toBeGreaterThan(3);

    let answered = 0;
    const hung = hostileGuest({
      run: (_id, send) => send(notify('task/started', { id: 'a', startedAt: 1 })),
      ping: (id, send) => {
        if (answered++ < 2) send(JSON.stringify({ jsonrpc: '2.0', id, result: { running: ['a'] } }));
      },
    });
    const t0 = Date.now();
    const o = await runAgentSession(hung.instance, PLAN, limits({ unresponsiveSeconds: 1, jobSeconds: 30 }));
    expect(o.infraError).toMatchObject({ kind: 'error:guest-unresponsive', message: expect.stringContaining('a running') });
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(hung.disposed()).toBe(true);
  });

  it('a forged ping answer is a protocol violation', async () => {
    const g = hostileGuest({
      run: () => undefined,
      ping: (id, send) => send(JSON.stringify({ jsonrpc: '2.0', id, result: { running: ['../../x'] } })),
    });
    const o = await runAgentSession(g.instance, PLAN, limits({ unresponsiveSeconds: 1, jobSeconds: 30 }));
    expect(o.infraError).toMatchObject({ kind: 'error:sandbox-protocol', message: expect.stringContaining('ping') });
  });

  it('a task the guest does not end at its wall-clock limit is an overrun, though the guest still answers pings', async () => {
    const short: Plan = { ...PLAN, tasks: [{ ...PLAN.tasks[0]!, limits: { ...LIMITS, wallSeconds: 1 } }] };
    const g = hostileGuest({
      run: (_id, send) => send(notify('task/started', { id: 'a', startedAt: 1 })),
      ping: (id, send) => send(JSON.stringify({ jsonrpc: '2.0', id, result: { running: ['a'] } })),
    });
    const o = await runAgentSession(g.instance, short, limits({ unresponsiveSeconds: 1, overrunGraceSeconds: 1, jobSeconds: 30 }));
    expect(o.infraError).toMatchObject({ kind: 'error:task-overrun', message: expect.stringMatching(/task a has run \d+ s .* limit of 1 s/) });
  });

  it('a flood of messages above the rate limit is a protocol violation', async () => {
    const g = hostileGuest({
      run: (_id, send) => {
        for (let i = 0; i < 12000; i++) send(notify('task/output', { id: 'a', stream: 'stdout', text: '.' }));
      },
    });
    const o = await runAgentSession(g.instance, PLAN, limits({ maxMessagesPerSecond: 100, jobSeconds: 30 }));
    expect(o.infraError).toMatchObject({ kind: 'error:sandbox-protocol', message: expect.stringContaining('message rate') });
  });
});
