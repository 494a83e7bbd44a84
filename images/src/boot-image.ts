/**
 * The bootable guest image for the VM backends, made from the guest root filesystem without
 * mounting anything: an ext4 disk built with `mkfs.ext4 -d` and converted to qcow2 (every job boots a
 * throwaway copy-on-write overlay of it), Debian's kernel as an uncompressed `vmlinux` (direct kernel
 * boot; `-M microvm` needs an ELF kernel, and decompressing a bzImage costs seconds under TCG), and
 * a tiny busybox initramfs whose init (images/boot/init.sh) loads the virtio and ext4 modules,
 * mounts the disks and starts the vm-agent on its virtio-serial port.
 *
 * Cached beside the root filesystem under a key that is the hash of both recipes. The kernel and
 * busybox come from the host's apt sources (`apt-get download`), so the image follows Debian's
 * current bookworm kernel when it is (re)built.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from './cache-dir.js';
import { cpioNewc, type CpioEntry } from './cpio-newc.js';
import { ImageError, requireRootfs, type RootfsInfo } from './guest-rootfs.js';
import { recipeHash } from './recipe-hash.js';
import { runTool as run } from './run-tool.js';

/** The boot recipe directory (init and module list) in this repository. */
export const BOOT_RECIPE_DIR = new URL('../boot/', import.meta.url).pathname.replace(/\/$/, '');

export interface BootImageInfo {
  /** qcow2 of the root filesystem: the backing file of every job's overlay. Never written. */
  rootDisk: string;
  /** Uncompressed kernel (ELF with a PVH entry). */
  kernel: string;
  /** The busybox initramfs (newc cpio). */
  initrd: string;
  kernelVersion: string;
  hash: string;
  rootfsHash: string;
  builtAt: string;
  buildSeconds: number;
  /** Size of the qcow2 on disk. */
  sizeBytes: number;
}

function bootHash(rootfs: RootfsInfo): string {
  return createHash('sha256').update(`${rootfs.hash}\0${recipeHash(BOOT_RECIPE_DIR)}`).digest('hex');
}

function dirFor(hash: string, env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'images', `boot-${hash.slice(0, 16)}`);
}

/** The cached boot image for the current recipes, or null when it has not been built. */
export function findBootImage(env: NodeJS.ProcessEnv = process.env): BootImageInfo | null {
  let rootfs: RootfsInfo;
  try {
    rootfs = requireRootfs(env);
  } catch {
    return null;
  }
  const marker = join(dirFor(bootHash(rootfs), env), 'pyti-boot.json');
  return existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as BootImageInfo) : null;
}

/** Like findBootImage, but throws a clear error naming the command that builds it. */
export function requireBootImage(env: NodeJS.ProcessEnv = process.env): BootImageInfo {
  const info = findBootImage(env);
  if (!info) throw new ImageError('PYTI_IMAGE_MISSING', 'the bootable guest image has not been built for this recipe: run `pyti image build`');
  return info;
}

/** The versioned kernel package that Debian's `linux-image-amd64` currently depends on. */
async function kernelPackage(): Promise<string> {
  const out = (await run('apt-cache', ['depends', 'linux-image-amd64'])).toString();
  const m = /Depends: (linux-image-[0-9][^\s]*-amd64)/.exec(out);
  if (!m) throw new Error('apt-cache does not know linux-image-amd64: run apt-get update');
  return m[1]!;
}

/**
 * Extracts the uncompressed kernel from a bzImage whose payload is XZ (Debian's), as the kernel's
 * scripts/extract-vmlinux does: find the XZ stream and decompress it; trailing data is ignored.
 */
export async function extractVmlinux(bzImage: Buffer): Promise<Buffer> {
  const magic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  for (let at = bzImage.indexOf(magic); at >= 0; at = bzImage.indexOf(magic, at + 1)) {
    const out = await run('xz', ['-dc', '--single-stream'], { input: bzImage.subarray(at), okCodes: [0, 1] }).catch(() => Buffer.alloc(0));
    if (out.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return out;
  }
  throw new Error('no XZ-compressed ELF kernel found in the bzImage');
}

function initramfs(busybox: Buffer, moduleRoot: string): { cpio: Buffer; modules: string[] } {
  const list = readFileSync(join(BOOT_RECIPE_DIR, 'modules.txt'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const loaded = new Set<string>();
  const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'newroot', 'modules'].map((d) => ({ type: 'dir' as const, path: d }));
  entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  entries.push({ type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 });
  for (const m of list) {
    const data = readFileSync(join(moduleRoot, `${m}.ko`));
    const name = m.slice(m.lastIndexOf('/') + 1);
    // The module's .modinfo names its dependencies: they must be loaded before it.
    const deps = /depends=([a-z0-9_,-]*)/.exec(data.toString('latin1'))?.[1]?.split(',').filter(Boolean) ?? [];
    const missing = deps.filter((d) => !loaded.has(d.replace(/-/g, '_')));
    if (missing.length) throw new Error(`modules.txt: ${name} needs ${missing.join(', ')} loaded before it`);
    loaded.add(name.replace(/-/g, '_'));
    entries.push({ type: 'file', path: `modules/${name}.ko`, data });
  }
  entries.push({ type: 'file', path: 'modules.txt', data: Buffer.from(`${list.join('\n')}\n`) });
  entries.push({ type: 'file', path: 'init', data: readFileSync(join(BOOT_RECIPE_DIR, 'init.sh')), mode: 0o755 });
  return { cpio: cpioNewc(entries), modules: list };
}

/**
 * Builds the boot image if the cache lacks it (needs root, the root filesystem, apt sources with
 * Debian's kernel, xz, mkfs.ext4 and qemu-img). A failed build leaves nothing in the cache.
 */
export async function buildBootImage(opts: { force?: boolean; onProgress?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<BootImageInfo & { cached: boolean }> {
  const env = opts.env ?? process.env;
  const rootfs = requireRootfs(env);
  const existing = findBootImage(env);
  if (existing && !opts.force) return { ...existing, cached: true };
  const hash = bootHash(rootfs);
  const final = dirFor(hash, env);
  const partial = `${final}.partial-${process.pid}`;
  const t0 = Date.now();
  const say = (l: string): void => opts.onProgress?.(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${l}`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, 'debs'), { recursive: true });
  try {
    const pkg = await kernelPackage();
    say(`downloading ${pkg} and busybox-static`);
    await run('apt-get', ['download', '-q', pkg, 'busybox-static'], { cwd: join(partial, 'debs') });
    const x = join(partial, 'x');
    for (const deb of readdirSync(join(partial, 'debs'))) await run('dpkg-deb', ['-x', join(partial, 'debs', deb), x]);
    const version = readdirSync(join(x, 'lib/modules'))[0]!;
    say(`extracting the uncompressed kernel ${version}`);
    const vmlinux = await extractVmlinux(readFileSync(join(x, 'boot', `vmlinuz-${version}`)));
    writeFileSync(join(partial, 'vmlinux'), vmlinux);
    const { cpio, modules } = initramfs(readFileSync(join(x, 'bin/busybox')), join(x, 'lib/modules', version, 'kernel'));
    writeFileSync(join(partial, 'initrd.cpio'), cpio);
    say(`initramfs: busybox, init and ${modules.length} modules (${(cpio.length / 1024 / 1024).toFixed(1)} MB)`);
    rmSync(x, { recursive: true, force: true });
    rmSync(join(partial, 'debs'), { recursive: true, force: true });

    // Room for what a job writes outside its tmpfs mounts (they hold /tmp, /work and the home).
    const size = Math.ceil((rootfs.sizeBytes * 1.15 + 384 * 1024 ** 2) / 1024 ** 2);
    const raw = join(partial, 'root.ext4');
    say(`making the ${size} MB ext4 root disk from the root filesystem (mkfs.ext4 -d)`);
    await run('truncate', ['-s', `${size}M`, raw]);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'pyti-root', '-E', 'root_owner=0:0', '-d', rootfs.path, raw]);
    say('converting it to qcow2');
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(partial, 'root.qcow2')]);
    rmSync(raw);
    const info: BootImageInfo = {
      rootDisk: join(final, 'root.qcow2'), kernel: join(final, 'vmlinux'), initrd: join(final, 'initrd.cpio'),
      kernelVersion: version, hash, rootfsHash: rootfs.hash, builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - t0) / 100) / 10, sizeBytes: statSync(join(partial, 'root.qcow2')).size,
    };
    writeFileSync(join(partial, 'pyti-boot.json'), JSON.stringify(info, null, 1));
    rmSync(final, { recursive: true, force: true });
    renameSync(partial, final);
    return { ...info, cached: false };
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw new ImageError('PYTI_IMAGE_BUILD_FAILED', `building the bootable image failed: ${(err as Error).message}`, { cause: err });
  }
}
