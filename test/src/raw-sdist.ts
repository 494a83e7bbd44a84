/**
 * Packs a fixture package directory that carries its own PKG-INFO into an sdist as it is (no build
 * backend runs on the host): `NAME-VERSION/…` in a .tar.gz, with a fixed mtime. For fixtures whose
 * backend cannot make an sdist offline (meson-python's needs git) or is not installed at all
 * (maturin, pdm-backend): the audit's build task is what must build them.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_PACKAGES_DIR } from './fixture-dists.js';

/** Writes the sdist of fixture `name` into `outDir`; returns its path. */
export function packRawSdist(name: string, outDir: string): string {
  const src = join(FIXTURE_PACKAGES_DIR, name);
  const info = readFileSync(join(src, 'PKG-INFO'), 'utf8');
  const field = (k: string): string => {
    const m = new RegExp(`^${k}: *(.+)$`, 'm').exec(info);
    if (!m) throw new Error(`${name}/PKG-INFO has no ${k}`);
    return m[1]!.trim();
  };
  const top = `${field('Name').replace(/[-.]+/g, '_')}-${field('Version')}`;
  const tmp = mkdtempSync(join(tmpdir(), 'isolate-raw-sdist-'));
  try {
    cpSync(src, join(tmp, top), { recursive: true });
    const out = join(outDir, `${top}.tar.gz`);
    const r = spawnSync('tar', ['--sort=name', '--mtime=@1700000000', '--owner=0', '--group=0', '--numeric-owner', '-czf', out, '-C', tmp, top], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tar failed for ${name}: ${r.stderr}`);
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
