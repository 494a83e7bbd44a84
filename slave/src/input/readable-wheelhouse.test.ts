import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readableWheelhouse, unreadableFiles } from './readable-wheelhouse.js';

describe('readableWheelhouse', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-wh-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('mounts a readable wheelhouse as it is', () => {
    writeFileSync(join(dir, 'a-1-py3-none-any.whl'), 'a');
    chmodSync(join(dir, 'a-1-py3-none-any.whl'), 0o644);
    expect(readableWheelhouse(dir, join(dir, 'stage'))).toBe(dir);
  });

  it('stages a copy when a wheel is readable by its owner only (flit writes 0600), leaving the original as it was', () => {
    const src = join(dir, 'src');
    const fs = { a: 'flit-1-py3-none-any.whl', b: 'other-1-py3-none-any.whl' };
    mkdirSync(src);
    writeFileSync(join(src, fs.a), 'flit');
    chmodSync(join(src, fs.a), 0o600);
    writeFileSync(join(src, fs.b), 'other');
    chmodSync(join(src, fs.b), 0o644);
    expect(unreadableFiles(src)).toEqual([fs.a]);
    const staged = readableWheelhouse(src, join(dir, 'stage'));
    expect(staged).toBe(join(dir, 'stage'));
    for (const f of [fs.a, fs.b]) expect(statSync(join(staged, f)).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(staged, fs.a), 'utf8')).toBe('flit');
    expect(statSync(join(src, fs.a)).mode & 0o777).toBe(0o600);
  });
});
