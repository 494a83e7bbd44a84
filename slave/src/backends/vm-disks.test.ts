import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INPUT_DISK_BYTES, prepareVmDisks, removeVmDisks, writeInputDisk } from './vm-disks.js';

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
    // Always the same size, whatever it holds (a warm guest keeps the size it saw at boot); sparse.
    expect(statSync(files.inputDisk).size).toBe(INPUT_DISK_BYTES);
    expect(statSync(files.inputDisk).blocks * 512).toBeLessThan(64 * 1024 * 1024);
    // The filesystem on it is sized to what it holds (the guest mounts a few block groups, not 256).
    const sb = execFileSync('dumpe2fs', ['-h', files.inputDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const fsBytes = Number(/Block count:\s*(\d+)/.exec(sb)![1]) * Number(/Block size:\s*(\d+)/.exec(sb)![1]);
    expect(fsBytes).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(fsBytes).toBeLessThan(128 * 1024 * 1024);
    expect(execFileSync('debugfs', ['-R', 'cat /agent/agent.mjs', files.inputDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('agent');
    // The scratch disk: an empty ext4 of the default 6 GiB, sparse (a few MB on the host), labelled.
    expect(statSync(files.scratchDisk).size).toBe(6 * 1024 ** 3);
    expect(statSync(files.scratchDisk).blocks * 512).toBeLessThan(16 * 1024 * 1024);
    expect(execFileSync('e2label', [files.scratchDisk], { encoding: 'utf8' }).trim()).toBe('pyti-scratch');
    // Every block group's inode table is marked zeroed: the guest kernel has none to zero after mounting it.
    const groups = execFileSync('dumpe2fs', [files.scratchDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => /^Group \d+:/.test(l));
    expect(groups.length).toBeGreaterThan(10);
    expect(groups.filter((g) => !g.includes('ITABLE_ZEROED'))).toEqual([]);
    expect(execFileSync('debugfs', ['-R', 'ls /', files.scratchDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter((n) => /^[a-z]/.test(n))).toEqual(['lost+found']);
    removeVmDisks(files);
    expect(existsSync(files.dir)).toBe(false);
    expect(existsSync(base)).toBe(true); // the cached disk is untouched
  });

  it('refuse inputs that do not fit the input disk, with PYTI_INPUT_TOO_LARGE, and leave no files', async () => {
    const base = join(dir, 'base2.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    const d = (name: string): string => {
      mkdirSync(join(dir, name), { recursive: true });
      return join(dir, name);
    };
    writeFileSync(join(d('in2'), 'big.whl'), Buffer.alloc(8 * 1024 * 1024));
    const jobDir = d('job2');
    await expect(prepareVmDisks({ inputDir: join(dir, 'in2'), wheelhouse: d('wh2'), agentDir: d('agent2'), tasksDir: d('tasks2'), rootfs: '/nonexistent', jobDir },
      base, { inputDiskBytes: 70 * 1024 * 1024 })).rejects.toMatchObject({ code: 'PYTI_INPUT_TOO_LARGE', message: expect.stringContaining('do not fit the VM\'s input disk') });
    expect(existsSync(join(jobDir, 'vm'))).toBe(false);
  });

  it('rewrite an input disk in place for a pooled guest: same file, same inode, size and mode, only the new job\'s files', async () => {
    const mk = (name: string, files: Record<string, string>): string => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
      return d;
    };
    const empty = mk('pool-empty', {});
    const agent = mk('pool-agent', { 'agent.mjs': 'agent' });
    const disk = join(dir, 'pool-input.ext4');
    await writeInputDisk({ inputDir: empty, wheelhouse: empty, agentDir: agent, tasksDir: empty, rootfs: '', jobDir: dir }, disk, join(dir, 'stage-0'));
    execFileSync('chmod', ['640', disk]);
    const before = statSync(disk);
    const cat = (p: string): string => execFileSync('debugfs', ['-R', `cat ${p}`, disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const ls = (p: string): string => execFileSync('debugfs', ['-R', `ls ${p}`, disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(ls('/input')).not.toContain('job-a.txt');
    await writeInputDisk({ inputDir: mk('pool-a', { 'job-a.txt': 'A' }), wheelhouse: empty, agentDir: agent, tasksDir: empty, rootfs: '', jobDir: dir }, disk, join(dir, 'stage-1'));
    const after = statSync(disk);
    expect([after.ino, after.size, after.mode]).toEqual([before.ino, INPUT_DISK_BYTES, before.mode]);
    expect(cat('/input/job-a.txt')).toBe('A');
    await writeInputDisk({ inputDir: mk('pool-b', { 'job-b.txt': 'B' }), wheelhouse: empty, agentDir: agent, tasksDir: empty, rootfs: '', jobDir: dir }, disk, join(dir, 'stage-2'));
    expect(cat('/input/job-b.txt')).toBe('B');
    expect(ls('/input')).not.toContain('job-a.txt');
    expect(existsSync(join(dir, 'stage-2'))).toBe(false);
  });

  it('copy a warm template\'s scratch disk for a restored guest: the same filesystem, still sparse', async () => {
    const base = join(dir, 'base3.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    const empty = join(dir, 'tmpl-empty');
    mkdirSync(empty);
    // The template's scratch disk, as its guest left it (here: a directory made in it).
    const first = await prepareVmDisks({ inputDir: empty, wheelhouse: empty, agentDir: empty, tasksDir: empty, rootfs: '', jobDir: join(dir, 'tmpl-job') }, base);
    execFileSync('debugfs', ['-w', '-R', 'mkdir tmp', first.scratchDisk], { stdio: 'ignore' });
    const files = await prepareVmDisks({ inputDir: empty, wheelhouse: empty, agentDir: empty, tasksDir: empty, rootfs: '', jobDir: join(dir, 'job3') }, base,
      { scratchFrom: first.scratchDisk });
    expect(files.scratchDisk).not.toBe(first.scratchDisk);
    expect(statSync(files.scratchDisk).size).toBe(6 * 1024 ** 3);
    expect(statSync(files.scratchDisk).blocks * 512).toBeLessThan(16 * 1024 * 1024);
    const uuid = (disk: string): string => /Filesystem UUID:\s*(\S+)/.exec(execFileSync('dumpe2fs', ['-h', disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]!;
    expect(uuid(files.scratchDisk)).toBe(uuid(first.scratchDisk)); // the same filesystem, not a new one
    expect(execFileSync('debugfs', ['-R', 'ls /', files.scratchDisk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toContain('tmp');
  });
});
