/**
 * The units of retention settings, shared by the master (`pyti master --retention-max-age 30d
 * --retention-max-bytes 50G`) and the slave (`pyti slave --wheel-cache-max 10G`): byte sizes with
 * binary suffixes and durations with a unit, parsed strictly (no guessing what a bare number means
 * for a duration), and their display.
 */

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A byte size: `1048576`, `512K`, `500M`, `50G`, `1T` (binary: K = 1024; `KiB`, `MB`, … are read
 * the same way). Returns null when `text` is not one (the caller names the flag in its error).
 */
export function parseByteSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (m[2] === '' && m[1]!.includes('.')) return null;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : null;
}

/** A duration with its unit: `500ms`, `30s`, `15m`, `6h`, `30d`, `2w`; null when `text` is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)\s*(ms|s|m|h|d|w)$/i.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}

/** `1.5 GiB`, `12.0 MiB`, `512 B`: a size for people. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `30d`, `6h`, `90s`: the largest whole unit of a duration (for messages). */
export function formatDuration(ms: number): string {
  for (const [u, f] of [['w', 7 * 86_400_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}
