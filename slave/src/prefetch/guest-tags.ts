/**
 * What the guest image's Python accepts, for pip's target-platform flags and for the slave's
 * capabilities: `major.minor`, the implementation and ABI (`cp`, `cp311`) and the platform tags, most
 * specific first, as `packaging.tags` computes them inside the guest (with no network).
 */
import { PytiError } from '@pyti/vm-agent';
import { runInGuest } from './guest-python.js';

export interface GuestTags {
  /** `3.11`. */
  python: string;
  /** `cp`. */
  implementation: string;
  /** `cp311`. */
  abi: string;
  /** `manylinux_2_36_x86_64`, …, `linux_x86_64` (without `any`). */
  platforms: string[];
}

const SCRIPT = `
import json, sys
try:
    from packaging import tags
except ImportError:
    from pip._vendor.packaging import tags
ts = list(tags.sys_tags())
plats = []
for t in ts:
    if t.platform != 'any' and t.platform not in plats:
        plats.append(t.platform)
print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'implementation': tags.interpreter_name(), 'abi': ts[0].abi, 'platforms': plats}))
`;

const cache = new Map<string, Promise<GuestTags>>();

/** The guest's tags (computed once per root filesystem per process). */
export function guestTags(rootfs: string): Promise<GuestTags> {
  let p = cache.get(rootfs);
  if (!p) {
    p = computeGuestTags(rootfs);
    cache.set(rootfs, p);
    p.catch(() => cache.delete(rootfs));
  }
  return p;
}

async function computeGuestTags(rootfs: string): Promise<GuestTags> {
  const r = await runInGuest(['python3', '-I', '-c', SCRIPT], { rootfs, timeoutMs: 60_000 });
  let t: GuestTags | undefined;
  try {
    t = JSON.parse(r.stdout.trim()) as GuestTags;
  } catch {
    t = undefined;
  }
  const tag = /^[a-z0-9_]{1,64}$/;
  if (r.code !== 0 || !t || !/^\d+\.\d+$/.test(t.python) || !tag.test(t.implementation) || !tag.test(t.abi)
    || !Array.isArray(t.platforms) || !t.platforms.length || !t.platforms.every((x) => tag.test(x))) {
    throw new PytiError('PYTI_IMAGE_MISSING', `cannot read the guest Python's tags from ${rootfs}: ${r.stderr.trim().slice(-500) || r.stdout.slice(0, 200)}`);
  }
  return { python: t.python, implementation: t.implementation, abi: t.abi, platforms: t.platforms.slice(0, 64) };
}
