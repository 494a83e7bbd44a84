/**
 * The guest root filesystem: built by images/guest/recipe.sh with debootstrap, cached outside the
 * repository under a key that is the hash of the recipe. The sandbox backend runs it as it is; the
 * VM backends boot a disk image made from it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { cacheRoot } from './cache-dir.js';
import { recipeHash } from './recipe-hash.js';

/** The recipe directory in this repository. */
export const GUEST_RECIPE_DIR = new URL('../guest/', import.meta.url).pathname.replace(/\/$/, '');

export interface RootfsInfo {
  path: string;
  hash: string;
  builtAt: string;
  buildSeconds: number;
  sizeBytes: number;
  versions: Record<string, string | null>;
}

/** Raised for image problems; `code` is one of the PYTI_IMAGE_* codes. */
export class ImageError extends PytiError {}

function dirFor(hash: string, env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'images', `rootfs-${hash.slice(0, 16)}`);
}

/** The cached root filesystem for the current recipe, or null when it has not been built. */
export function findRootfs(env: NodeJS.ProcessEnv = process.env): RootfsInfo | null {
  const hash = recipeHash(GUEST_RECIPE_DIR);
  const dir = dirFor(hash, env);
  const marker = join(dir, 'pyti-image.json');
  if (!existsSync(marker)) return null;
  return JSON.parse(readFileSync(marker, 'utf8')) as RootfsInfo;
}

/** Like findRootfs, but throws a clear error naming the command that builds it. */
export function requireRootfs(env: NodeJS.ProcessEnv = process.env): RootfsInfo {
  const info = findRootfs(env);
  if (!info) throw new ImageError('PYTI_IMAGE_MISSING', 'the guest image has not been built for this recipe: run `pyti image build`');
  return info;
}

function duBytes(path: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn('du', ['-sb', path], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => resolve(Number(out.split(/\s/)[0]) || 0));
  });
}

/**
 * Builds the root filesystem if the cache lacks it (needs root and debootstrap). `onProgress`
 * receives one line per step. A failed build leaves nothing in the cache.
 */
export async function buildRootfs(opts: { force?: boolean; onProgress?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<RootfsInfo & { cached: boolean }> {
  const env = opts.env ?? process.env;
  const existing = findRootfs(env);
  if (existing && !opts.force) return { ...existing, cached: true };
  if (process.getuid?.() !== 0) throw new ImageError('PYTI_IMAGE_NOT_ROOT', 'building the guest image needs root (debootstrap)');
  const hash = recipeHash(GUEST_RECIPE_DIR);
  const final = dirFor(hash, env);
  const partial = `${final}.partial-${process.pid}`;
  const dest = join(partial, 'rootfs');
  mkdirSync(partial, { recursive: true });
  const t0 = Date.now();
  const say = (l: string): void => opts.onProgress?.(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${l}`);
  try {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('bash', [join(GUEST_RECIPE_DIR, 'recipe.sh'), dest], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, LC_ALL: 'C' } });
      let tail = '';
      let count = 0;
      const onLine = (chunk: Buffer): void => {
        const text = chunk.toString();
        tail = (tail + text).slice(-4000);
        for (const line of text.split('\n')) {
          if (!line.trim()) continue;
          count++;
          // debootstrap prints a line per package: show steps and every 25th line.
          if (/^(step|recipe|E:|W:)/.test(line) || /Retrieving|Validating|Resolving|Extracting base|Installing (core|base)|Configuring base|successfully/.test(line) || count % 25 === 0) say(line.trim());
        }
      };
      p.stdout.on('data', onLine);
      p.stderr.on('data', onLine);
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`recipe exited with ${code}: ${tail.slice(-1500)}`))));
    });
    const versions = JSON.parse(readFileSync(join(dest, 'opt/pyti/image-versions.json'), 'utf8')) as Record<string, string | null>;
    const info: RootfsInfo = {
      path: join(final, 'rootfs'), hash, builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - t0) / 100) / 10, sizeBytes: await duBytes(dest), versions,
    };
    writeFileSync(join(partial, 'pyti-image.json'), JSON.stringify(info, null, 1));
    rmSync(final, { recursive: true, force: true });
    renameSync(partial, final);
    return { ...info, cached: false };
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw new ImageError('PYTI_IMAGE_BUILD_FAILED', `building the guest image failed: ${(err as Error).message}`, { cause: err });
  }
}
