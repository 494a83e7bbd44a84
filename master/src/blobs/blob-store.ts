/**
 * Content-addressed blob store: `<root>/ab/cd/<sha256>`. A blob is written to a temp file while its
 * stream is hashed and counted, and renamed into place only when its hash is the expected name
 * (PYTI_BLOB_MISMATCH otherwise, also when it exceeds its size cap). Writing the same blob twice is
 * harmless (the second copy is dropped, and the stored one's modification time is renewed: it is
 * the blob's "last written or re-used" time that gc's grace period protects, see retention/gc-run.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, writeFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PytiError } from '@pyti/vm-agent';

/** A lower-case hex sha256. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A blob written to a temp file, hashed, not yet in the store. */
export interface TempBlob {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export interface PutResult {
  sha256: string;
  sizeBytes: number;
  /** False when the store already had it. */
  created: boolean;
}

/** Thrown for a blob above its cap (PYTI_BLOB_MISMATCH, `tooLarge` set so HTTP can answer 413). */
export class BlobTooLargeError extends PytiError {
  readonly tooLarge = true;
  constructor(maxBytes: number) {
    super('PYTI_BLOB_MISMATCH', `the blob is larger than the ${maxBytes}-byte limit`);
  }
}

export class BlobStore {
  readonly tmpDir: string;
  constructor(readonly root: string, tmpDir = join(root, '..', 'tmp')) {
    this.tmpDir = tmpDir;
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  /** Where the blob `sha256` lives (whether or not it exists). Throws for a malformed name. */
  pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new PytiError('PYTI_BLOB_MISMATCH', `${JSON.stringify(sha256.slice(0, 80))} is not a lower-case hex sha256`);
    return join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  /** The blob's size, or null when the store lacks it. */
  sizeOf(sha256: string): number | null {
    try {
      return statSync(this.pathOf(sha256)).size;
    } catch {
      return null;
    }
  }

  has(sha256: string): boolean {
    return SHA256_HEX.test(sha256) && existsSync(this.pathOf(sha256));
  }

  /** Reads a blob; null when the store lacks it. */
  open(sha256: string): ReadStream | null {
    return this.has(sha256) ? createReadStream(this.pathOf(sha256)) : null;
  }

  /** A fresh temp path (in the store's temp directory), optionally ending with `name`. */
  tempPath(name = 'blob'): string {
    const dir = join(this.tmpDir, `t-${process.pid}-${randomBytes(8).toString('hex')}`);
    mkdirSync(dir, { mode: 0o700 });
    return join(dir, name);
  }

  /** Writes `stream` to `path` while hashing; throws BlobTooLargeError beyond `maxBytes` (and removes the file). */
  async writeTemp(stream: Readable, maxBytes: number, path = this.tempPath()): Promise<TempBlob> {
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxBytes) return cb(new BlobTooLargeError(maxBytes));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(stream, meter, createWriteStream(path, { mode: 0o600 }));
    } catch (err) {
      discardTemp(path);
      throw err;
    }
    return { path, sha256: hash.digest('hex'), sizeBytes: size };
  }

  /**
   * Moves a hashed temp file into the store under its hash (drops it when the store has it, renewing
   * the stored file's time; when gc took the stored file away meanwhile, the temp file takes its place).
   */
  adopt(temp: TempBlob): PutResult {
    const dest = this.pathOf(temp.sha256);
    if (existsSync(dest) && this.touch(temp.sha256)) {
      discardTemp(temp.path);
      return { sha256: temp.sha256, sizeBytes: temp.sizeBytes, created: false };
    }
    mkdirSync(join(dest, '..'), { recursive: true, mode: 0o700 });
    renameSync(temp.path, dest);
    discardTemp(temp.path);
    return { sha256: temp.sha256, sizeBytes: temp.sizeBytes, created: true };
  }

  /**
   * Stores `stream` under `expected` (when given): PYTI_BLOB_MISMATCH when it hashes otherwise,
   * BlobTooLargeError beyond `maxBytes`. Nothing is left behind on failure.
   */
  async put(stream: Readable, maxBytes: number, expected?: string): Promise<PutResult> {
    if (expected !== undefined) this.pathOf(expected);
    const temp = await this.writeTemp(stream, maxBytes);
    if (expected !== undefined && temp.sha256 !== expected) {
      discardTemp(temp.path);
      throw new PytiError('PYTI_BLOB_MISMATCH', `the body hashes to ${temp.sha256}, not ${expected}`);
    }
    return this.adopt(temp);
  }

  /** Renews the blob's modification time (written or re-used now); false when the store lacks it. */
  touch(sha256: string): boolean {
    const now = new Date();
    try {
      utimesSync(this.pathOf(sha256), now, now);
      return true;
    } catch {
      return false;
    }
  }

  /** Every blob in the store (files under `<root>/ab/cd/` named by their sha256; anything else is skipped). */
  *list(): Generator<StoredBlob> {
    const dirs = (p: string): string[] => {
      try {
        return readdirSync(p).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort();
      } catch {
        return [];
      }
    };
    for (const a of dirs(this.root)) {
      for (const b of dirs(join(this.root, a))) {
        let names: string[];
        try {
          names = readdirSync(join(this.root, a, b));
        } catch {
          continue;
        }
        for (const name of names.sort()) {
          if (!SHA256_HEX.test(name) || name.slice(0, 2) !== a || name.slice(2, 4) !== b) continue;
          try {
            const st = statSync(join(this.root, a, b, name));
            if (st.isFile()) yield { sha256: name, sizeBytes: st.size, mtimeMs: st.mtimeMs };
          } catch {
            /* removed meanwhile */
          }
        }
      }
    }
  }

  /** Stores a buffer (tests, small blobs). */
  putBuffer(data: Buffer): PutResult {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const dest = this.pathOf(sha256);
    if (existsSync(dest) && this.touch(sha256)) return { sha256, sizeBytes: data.length, created: false };
    const tmp = this.tempPath();
    mkdirSync(join(dest, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, data, { flag: 'wx', mode: 0o600 });
    renameSync(tmp, dest);
    discardTemp(tmp);
    return { sha256, sizeBytes: data.length, created: true };
  }
}

/** A stored blob as `BlobStore.list` finds it. */
export interface StoredBlob {
  sha256: string;
  sizeBytes: number;
  /** When it was last written or re-used (its file's modification time). */
  mtimeMs: number;
}

/** Removes a temp file and its private temp directory. */
export function discardTemp(path: string): void {
  rmSync(join(path, '..'), { recursive: true, force: true });
}
