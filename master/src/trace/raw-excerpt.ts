/**
 * Lines around one line of a raw artifact (a strace file, a log): what an evidence link shows.
 * Reads the blob as a stream and stops after the last line wanted, so a line near the start of a
 * large trace costs little. Security: the file came from a sandbox: every line is cut at
 * `MAX_EXCERPT_LINE_CHARS`, decoded as UTF-8 with replacement characters, and returned as text for
 * the caller to escape.
 */
import { createReadStream } from 'node:fs';

/** Longest line shown (characters); the rest is cut and marked. */
export const MAX_EXCERPT_LINE_CHARS = 4000;
/** Most lines of context either side. */
export const MAX_EXCERPT_CONTEXT = 200;

export interface RawExcerpt {
  /** The line asked for (1-based). */
  line: number;
  /** First line shown (1-based). */
  from: number;
  lines: { n: number; text: string; cut: boolean }[];
  /** False when the file ended before `line`. */
  found: boolean;
  /** True when the file has lines after the last one shown. */
  more: boolean;
}

/** Lines `line - context` … `line + context` of the file at `path`. */
export async function readExcerpt(path: string, line: number, context: number): Promise<RawExcerpt> {
  const from = Math.max(1, line - context);
  const to = line + context;
  const lines: RawExcerpt['lines'] = [];
  let n = 1;
  let cur: Buffer[] = [];
  let curLen = 0;
  let more = false;
  const push = (): void => {
    if (n >= from && n <= to) {
      const raw = Buffer.concat(cur).toString('utf8');
      lines.push({ n, text: raw.slice(0, MAX_EXCERPT_LINE_CHARS), cut: raw.length > MAX_EXCERPT_LINE_CHARS || curLen > MAX_EXCERPT_LINE_CHARS * 4 });
    }
    n++;
    cur = [];
    curLen = 0;
  };
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  try {
    outer: for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        if (n > to) {
          more = true;
          break outer;
        }
        const nl = chunk.indexOf(10, start);
        const end = nl < 0 ? chunk.length : nl;
        // Keep only what can be shown of a line (4 bytes a character at most).
        if (n >= from && curLen < MAX_EXCERPT_LINE_CHARS * 4) {
          const part = chunk.subarray(start, Math.min(end, start + MAX_EXCERPT_LINE_CHARS * 4 - curLen));
          cur.push(part);
        }
        curLen += end - start;
        if (nl < 0) break;
        push();
        start = nl + 1;
      }
    }
  } finally {
    stream.destroy();
  }
  if (curLen > 0 && n <= to) push();
  return { line, from, lines, found: lines.some((l) => l.n === line), more };
}
