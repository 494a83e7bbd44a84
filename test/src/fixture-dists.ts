/**
 * Builds the fixture packages under test/fixtures/packages into real sdists and wheels, with the
 * guest image's own Python and `python -m build`, inside bubblewrap with no network. Results are
 * cached in the PyTI cache under a hash of the package's sources.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, recipeHash, requireRootfs } from '@pyti/images';

export const FIXTURE_PACKAGES_DIR = new URL('../fixtures/packages/', import.meta.url).pathname.replace(/\/$/, '');

/** Builds `kind` of the fixture package `name`; returns the path of the built file. */
export function buildFixture(name: string, kind: 'sdist' | 'wheel'): string {
  const src = join(FIXTURE_PACKAGES_DIR, name);
  if (!existsSync(src)) throw new Error(`no fixture package ${name}`);
  const rootfs = requireRootfs();
  const outDir = join(cacheRoot(), 'fixtures', `${name}-${kind}-${recipeHash(src).slice(0, 12)}-${rootfs.hash.slice(0, 8)}`);
  const done = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith(kind === 'sdist' ? '.tar.gz' : '.whl')) : [];
  if (done.length) return join(outDir, done[0]!);
  const tmp = mkdtempSync(join(tmpdir(), 'pyti-fixture-'));
  try {
    cpSync(src, join(tmp, 'src'), { recursive: true });
    mkdirSync(join(tmp, 'out'));
    const r = spawnSync('bwrap', [
      '--unshare-all', '--die-with-parent', '--ro-bind', rootfs.path, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
      '--bind', join(tmp, 'src'), '/work', '--bind', join(tmp, 'out'), '/wheelhouse', '--chdir', '/work', '--clearenv',
      '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'SOURCE_DATE_EPOCH', '1700000000',
      'python3', '-m', 'build', kind === 'sdist' ? '--sdist' : '--wheel', '--no-isolation', '--skip-dependency-check', '--outdir', '/wheelhouse', '/work',
    ], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building ${kind} of ${name} failed:\n${r.stdout}\n${r.stderr}`);
    mkdirSync(join(cacheRoot(), 'fixtures'), { recursive: true });
    rmSync(outDir, { recursive: true, force: true });
    renameSync(join(tmp, 'out'), outDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return buildFixture(name, kind);
}

/** A fresh directory holding wheels of the named fixture packages. */
export function makeWheelhouse(dir: string, packages: string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const p of packages) {
    const whl = buildFixture(p, 'wheel');
    cpSync(whl, join(dir, whl.split('/').pop()!));
  }
  return dir;
}
