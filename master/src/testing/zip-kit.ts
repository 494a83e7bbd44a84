/**
 * Zips built in memory for tests of submissions: entries stored or deflated, with Unix modes (so a
 * test can make executables, symbolic links and devices), and any name (so a test can try `../x`).
 */
import { rawZip } from '@pyti/common';

export interface ZipEntry {
  name: string;
  data?: string | Buffer;
  /** Unix mode with its type bits, e.g. 0o100755, 0o120777 (a symbolic link); default 0o100644 (0o040755 for names ending `/`). */
  mode?: number;
  deflate?: boolean;
}

/** A zip of `entries`, in order (written by the hostile-archive kit's zip writer, with UTF-8 flags off). */
export function zipOf(entries: ZipEntry[]): Buffer {
  return rawZip(entries.map((e) => ({
    name: e.name, data: e.data, flags: 0, deflate: e.deflate ?? false,
    mode: e.mode ?? (e.name.endsWith('/') ? 0o040755 : 0o100644),
  })));
}
