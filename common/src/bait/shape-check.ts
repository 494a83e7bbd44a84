/** Shape checks of bait data that came out of a sandbox (bait.json, bait-hits.json): untrusted, capped. */
import type { BaitHit, ReportBait } from './bait-types.js';

const MAX_ITEMS = 200;
const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined);

/** `bait-hits.json` → the hits (`{hits: [{path, canary}]}`), at most 200, or [] when malformed. */
export function parseBaitHits(buf: Buffer | undefined): BaitHit[] {
  const doc = parseJson(buf);
  const hits = Array.isArray((doc as { hits?: unknown })?.hits) ? ((doc as { hits: unknown[] }).hits) : [];
  return hits.slice(0, MAX_ITEMS).flatMap((h) => {
    const path = str((h as Record<string, unknown>)?.path, 1000);
    const canary = str((h as Record<string, unknown>)?.canary, 100);
    return path && canary ? [{ path, canary }] : [];
  });
}

/** `bait.json` → the absolute paths the bait task planted, at most 200, or [] when malformed. */
export function parsePlanted(buf: Buffer | undefined): string[] {
  const doc = parseJson(buf);
  const planted = Array.isArray((doc as { planted?: unknown })?.planted) ? (doc as { planted: unknown[] }).planted : [];
  return planted.slice(0, MAX_ITEMS).flatMap((p) => {
    const s = str(p, 1000);
    return s && s.startsWith('/') ? [s] : [];
  });
}

function parseJson(buf: Buffer | undefined): unknown {
  if (!buf || buf.length > 1024 * 1024) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** A stored report's `bait` (rescore reads reports from disk), or undefined when malformed. */
export function parseReportBait(v: unknown): ReportBait | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const { files, canaries } = v as { files?: unknown; canaries?: unknown };
  if (!Array.isArray(files) || !Array.isArray(canaries)) return undefined;
  return {
    files: files.slice(0, MAX_ITEMS).flatMap((f) => (str(f, 1000) ? [f as string] : [])),
    canaries: canaries.slice(0, MAX_ITEMS).flatMap((c) => {
      const id = str((c as Record<string, unknown>)?.id, 100);
      const value = str((c as Record<string, unknown>)?.value, 1000);
      return id && value ? [{ id, value }] : [];
    }),
  };
}
