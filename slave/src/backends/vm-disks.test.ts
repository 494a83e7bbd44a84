import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareVmDisks, removeVmDisks } from './vm-disks.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-vmdisks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('VM job disks', () => {
  it('make a copy-on-write overlay of the cached disk and a read-only input disk holding the inputs', async () => {
    const base = join(dir, 'base.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    const mk = (name: string, files: Record<string, string>): string => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
      return d;
    };
    const jobDir = join(dir, 'job');
    mkdirSync(jobDir);
    const files = await prepareVmDisks({
      inputDir: mk('in', { 'pkg-1.0.tar.gz': 'sdist' }), wheelhouse: mk('wh', { 'dep-1.0-py3-none-any.whl': 'wheel' }),
      agentDir: mk('agent', { 'agent.mjs': 'agent' }), tasksDir: mk('tasks', { 'x.py': 'task' }), rootfs: '/nonexistent', jobDir,
    }, base);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', files.overlay], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(info).toMatchObject({ format: 'qcow2', 'backing-filename': base, 'virtual-size': 64 * 1024 * 1024 });
    const ls = (p: string): string => execFileSync('debugfs', ['-R', `ls ${p}`, files.inputDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const top of ['input', 'wheelhouse', 'agent', 'tasks']) expect(ls('/').split(/\s+/)).toContain(top);
    expect(ls('/input')).toContain('pkg-1.0.tar.gz');
    expect(ls('/wheelhouse')).toContain('dep-1.0-py3-none-any.whl');
    expect(execFileSync('debugfs', ['-R', 'cat /agent/agent.mjs', files.inputDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('agent');
    removeVmDisks(files);
    expect(existsSync(files.dir)).toBe(false);
    expect(existsSync(base)).toBe(true); // the cached disk is untouched
  });
});
