import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveAgent } from './agent.js';
import { RpcPeer } from './rpc-peer.js';
import { createInMemoryPair } from './transport.js';
import { AgentErrorCodes, type AgentNotifications, type AgentRequests, type HostNotifications } from './protocol.js';
import { seedProvidedData, PROVIDED_DATA_DIR } from './provided-data.js';
import { PlanError } from './plan-graph.js';
import type { GuestLayout } from './task-executor.js';
import type { Plan, TaskSpec } from './plan.js';

const limits = { wallSeconds: 30, noOutputSeconds: 30, cpuSeconds: 30, memoryBytes: 2e9, processes: 64, outputBytes: 1e6 };
const task = (id: string, over: Partial<TaskSpec>): TaskSpec => ({ id, title: id, dependsOn: [], needs: [], produces: [], failurePolicy: 'flunk', limits, command: ['true'], ...over });

let root: string;
let layout: GuestLayout;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pyti-provided-'));
  layout = { work: join(root, 'work'), input: join(root, 'input'), wheelhouse: join(root, 'wh'), tasks: join(root, 'tasks'), home: join(root, 'work/home'), tmp: join(root, 'tmp') };
  for (const d of [layout.input, layout.wheelhouse, layout.tasks, layout.tmp]) mkdirSync(d, { recursive: true });
  // What a host-side inspect left: a source tree (with a link of the sdist's kind, and one pointing out) and meta.
  const src = join(layout.input, PROVIDED_DATA_DIR, 'source');
  mkdirSync(join(src, 'pkg'), { recursive: true });
  writeFileSync(join(src, 'pkg', '__init__.py'), 'VALUE = 42\n');
  writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho ran\n');
  chmodSync(join(src, 'run.sh'), 0o4755);
  symlinkSync('pkg/__init__.py', join(src, 'alias.py'));
  symlinkSync('/etc/hostname', join(src, 'outside'));
  execFileSync('mkfifo', [join(src, 'fifo')]);
  mkdirSync(join(layout.input, PROVIDED_DATA_DIR, 'meta'));
  writeFileSync(join(layout.input, PROVIDED_DATA_DIR, 'meta', 'inspect.json'), '{"name":"pkg"}');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

type HostPeer = RpcPeer<Record<string, never>, AgentRequests, AgentNotifications, HostNotifications>;
function startAgent(): { host: HostPeer; raw: Map<string, string>; done: Promise<void> } {
  const { a, b } = createInMemoryPair();
  const done = serveAgent(b.reader, b.writer, { layout });
  const host: HostPeer = new RpcPeer(a.reader, a.writer);
  const raw = new Map<string, string>();
  host.onNotification('task/raw', (p) => raw.set(`${p.id}/${p.name}`, (raw.get(`${p.id}/${p.name}`) ?? '') + Buffer.from(p.data, 'base64').toString()));
  for (const n of ['task/started', 'task/output', 'task/finished', 'log'] as const) host.onNotification(n, () => undefined);
  return { host, raw, done };
}

describe('provided data (Plan.provided)', () => {
  it('is in the data store before the first task starts, links copied as links, never followed', async () => {
    const { host, raw, done } = startAgent();
    const plan: Plan = {
      parallel: 2, provided: ['source', 'meta'],
      tasks: [
        task('build', { needs: ['source', 'meta'], produces: ['wheel'], command: ['sh', '-c', 'cat {data:source}/pkg/__init__.py {data:meta}/inspect.json > {raw}/seen.txt && touch {data:wheel}/w'] }),
        task('lint', { needs: ['source'], command: ['sh', '-c', 'ls {data:source} > {raw}/ls.txt'] }),
      ],
    };
    await host.request('initialize', { hostVersion: 't', clockMs: Date.now() });
    const result = await host.request('run', { plan });
    expect(result.tasks.map((t) => [t.id, t.status])).toEqual([['build', 'pass'], ['lint', 'pass']]);
    expect(raw.get('build/seen.txt')).toBe('VALUE = 42\n{"name":"pkg"}');
    expect(raw.get('lint/ls.txt')!.split('\n').filter(Boolean).sort()).toEqual(['alias.py', 'outside', 'pkg', 'run.sh']);
    const data = join(layout.work, 'data', 'source');
    expect(readlinkSync(join(data, 'alias.py'))).toBe('pkg/__init__.py');
    expect(lstatSync(join(data, 'outside')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(data, 'outside'))).toBe('/etc/hostname');
    expect(statSync(join(data, 'run.sh')).mode & 0o7777).toBe(0o755); // set-uid dropped, executable kept
    expect(statSync(join(data, 'pkg', '__init__.py')).mode & 0o777).toBe(0o644);
    await host.request('shutdown', {});
    await done;
  });

  it('refuses a key missing from the input, or a link in place of its directory, as an invalid plan', async () => {
    symlinkSync('/etc', join(layout.input, PROVIDED_DATA_DIR, 'venv'));
    const { host, done } = startAgent();
    await host.request('initialize', { hostVersion: 't', clockMs: Date.now() });
    for (const key of ['wheel', 'venv']) {
      const plan: Plan = { parallel: 1, provided: [key], tasks: [task('install', { needs: [key], command: ['true'] })] };
      await expect(host.request('run', { plan })).rejects.toMatchObject({ code: AgentErrorCodes.invalidPlan });
    }
    expect(() => seedProvidedData(layout, ['../input'])).toThrow(PlanError);
    await host.request('shutdown', {});
    await done;
  });

  it('belongs to the first slot uid, as if a task of the plan had produced it, and stays within its bounds', () => {
    const owner = process.getuid?.() === 0 ? 4242 : undefined;
    const summary = seedProvidedData(layout, ['source'], owner);
    expect(summary).toMatchObject({ bytes: 11 + 19, skipped: 1 });
    const data = join(layout.work, 'data', 'source');
    if (owner !== undefined) {
      for (const p of [data, join(data, 'pkg'), join(data, 'pkg', '__init__.py')]) expect(statSync(p).uid).toBe(owner);
      expect(lstatSync(join(data, 'outside')).uid).toBe(owner);
    }
    rmSync(join(layout.work, 'data'), { recursive: true });
    expect(() => seedProvidedData(layout, ['source'], undefined, { maxEntries: 3, maxBytes: 1e9 })).toThrow(/more than 3 entries/);
    rmSync(join(layout.work, 'data'), { recursive: true });
    expect(() => seedProvidedData(layout, ['source'], undefined, { maxEntries: 100, maxBytes: 5 })).toThrow(/larger than/);
  });
});
