import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneLibvirtTemplates } from './libvirt-warm.js';
import { pruneWarmTemplates, touchWarmTemplate } from './warm-cache.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-lvwarm-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A template directory as the warm start code leaves it, over the boot directory `bootDir`, last used `ageMs` ago. */
function template(hex: string, bootDir: string, ageMs = 0): string {
  const d = join(dir, `warm-${hex.repeat(16).slice(0, 16)}`);
  mkdirSync(d);
  for (const f of ['root.qcow2', 'scratch.ext4', 'state']) writeFileSync(join(d, f), 'x');
  writeFileSync(join(d, 'warm.json'), JSON.stringify({ dir: d, overlay: join(d, 'root.qcow2'), scratch: join(d, 'scratch.ext4'), state: join(d, 'state'), bootDir }));
  const t = new Date(Date.now() - ageMs);
  utimesSync(join(d, 'warm.json'), t, t);
  return d;
}

const HOUR = 3600 * 1000;

describe('pruneLibvirtTemplates', () => {
  it('removes templates whose boot image is gone and dead half-built ones, and keeps the rest', () => {
    const boot = join(dir, 'boot-a');
    mkdirSync(boot);
    const live = template('1', boot);
    const kept = template('2', join(dir, 'boot-gone')); // the one asked for is never touched
    const orphan = template('3', join(dir, 'boot-gone'));
    const broken = join(dir, 'warm-4444444444444444');
    mkdirSync(broken);
    writeFileSync(join(broken, 'warm.json'), '{not json');
    const oldPartial = join(dir, 'warm-5555555555555555.partial-123');
    const newPartial = join(dir, 'warm-6666666666666666.partial-456');
    mkdirSync(oldPartial);
    mkdirSync(newPartial);
    utimesSync(oldPartial, new Date(Date.now() - HOUR), new Date(Date.now() - HOUR));
    const lock = `${live}.lock`;
    mkdirSync(lock);
    expect(pruneLibvirtTemplates(dir, kept).sort()).toEqual([orphan, broken, oldPartial].sort());
    expect([live, kept, newPartial, lock, boot].filter(existsSync)).toEqual([live, kept, newPartial, lock, boot]);
  });
});

describe('pruneWarmTemplates', () => {
  it('keeps the most recently used templates (the one in use counting), and none idle too long', () => {
    const boot = join(dir, 'boot-a');
    mkdirSync(boot);
    const inUse = template('a', boot, 10 * HOUR);
    const recent = template('b', boot, 1 * HOUR);
    const older = template('c', boot, 2 * HOUR);
    const oldest = template('d', boot, 3 * HOUR);
    const stale = template('e', boot, 9 * 24 * HOUR);
    const other = join(dir, 'rootfs-0123456789abcdef'); // not a template: never touched
    mkdirSync(other);
    touchWarmTemplate(oldest); // used just now: the most recent after inUse
    const removed = pruneWarmTemplates(dir, inUse, () => true, { maxEntries: 3, maxIdleMs: 7 * 24 * HOUR });
    expect(removed.sort()).toEqual([older, stale].sort());
    expect([inUse, recent, oldest, other].filter(existsSync)).toEqual([inUse, recent, oldest, other]);
  });
});
