/** Parses pylint's JSON messages and its text report's score. Input is untrusted and capped. */

export interface LintMessage {
  type: string;
  symbol: string;
  messageId: string;
  message: string;
  path: string;
  line: number;
  column: number;
}

export interface LintSummary {
  /** pylint's score out of 10, when it printed one. */
  score: number | null;
  counts: Record<string, number>;
  messages: LintMessage[];
}

const MAX_MESSAGES = 2000;

/**
 * @param json pylint `--output-format=json` output.
 * @param text pylint's text output (for "Your code has been rated at X/10").
 * @param sourceRoot guest path prefix to strip from message paths.
 */
export function parsePylint(json: string, text: string, sourceRoot = ''): LintSummary {
  let raw: unknown;
  try {
    raw = JSON.parse(json || '[]');
  } catch (err) {
    throw new Error(`malformed pylint JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new Error('malformed pylint JSON: not a list');
  const counts: Record<string, number> = {};
  const messages: LintMessage[] = [];
  for (const m of raw as Record<string, unknown>[]) {
    if (typeof m !== 'object' || m === null) continue;
    const type = String(m.type ?? 'unknown').slice(0, 20);
    counts[type] = (counts[type] ?? 0) + 1;
    if (messages.length >= MAX_MESSAGES) continue;
    let path = String(m.path ?? '').slice(0, 500);
    if (sourceRoot && path.startsWith(sourceRoot)) path = path.slice(sourceRoot.length).replace(/^\//, '');
    messages.push({
      type, symbol: String(m.symbol ?? '').slice(0, 100), messageId: String(m['message-id'] ?? '').slice(0, 10),
      message: String(m.message ?? '').slice(0, 2000), path, line: Number(m.line) || 0, column: Number(m.column) || 0,
    });
  }
  const s = /rated at (-?[0-9.]+)\/10/.exec(text);
  return { score: s ? Number(s[1]) : null, counts, messages };
}
