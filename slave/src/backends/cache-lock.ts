/**
 * A lock between processes over a cache entry: the directory `<path>.lock`, made atomically by
 * mkdir, holding its owner's pid. A lock whose owner died is taken over. Used to build a warm VM
 * template once when several slaves want it at the same time.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '@pyti/common';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the lock of `path`, waiting while another live process holds it; resolves to the function
 * that releases it. Throws when it is still held after `timeoutMs`.
 */
export async function lockCacheEntry(path: string, timeoutMs: number): Promise<() => void> {
  const lockDir = `${path}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch {
      const owner = Number(readFileSync(join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (owner && !pidAlive(owner)) rmSync(lockDir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir}`);
      else await sleep(500);
    }
  }
}
