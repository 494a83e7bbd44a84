/**
 * What `prefetchDependencies` needs on a host besides the distribution and the index: the wheel
 * cache (its staging directories of dead runs swept), the guest root filesystem whose pip resolves,
 * and that Python's tags. The slave daemon (one cache in its data directory) and `pyti audit` (one
 * cache per user, `<cacheRoot>/wheels`) set it up with this one function.
 */
import { requireRootfs } from '@pyti/images';
import { guestTags, type GuestTags } from './guest-tags.js';
import { WheelCache } from './wheel-cache.js';

/** The host side of prefetching. */
export interface PrefetchHost {
  cache: WheelCache;
  rootfs: string;
  tags: GuestTags;
}

/** Opens the wheel cache at `wheelCacheDir` and reads the guest's tags (`rootfs` default: the cached image of the current recipe; PYTI_IMAGE_MISSING without one). */
export async function openPrefetchHost(o: { wheelCacheDir: string; rootfs?: string }): Promise<PrefetchHost> {
  const cache = new WheelCache(o.wheelCacheDir);
  cache.sweepStaging();
  const rootfs = o.rootfs ?? requireRootfs().path;
  return { cache, rootfs, tags: await guestTags(rootfs) };
}
