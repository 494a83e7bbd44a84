/**
 * A wheel's RECORD (`path,hash,size` rows, the CSV dialect Python's `csv` module writes: fields may
 * be double-quoted, `""` inside quotes is a quote). Rows are kept with their 1-based line number.
 */

/** One RECORD row. */
export interface RecordRow {
  path: string;
  /** `algorithm=urlsafe-base64-digest-without-padding`, or '' (RECORD itself, signatures). */
  hash: string;
  /** Decimal size, or ''. */
  size: string;
  /** 1-based line of the row in RECORD. */
  line: number;
}

/** Splits one CSV line into fields (no embedded newlines: RECORD paths never contain one). */
function fields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let f = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') {
          f += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else f += line[i++];
      }
      while (i < line.length && line[i] !== ',') f += line[i++];
    } else {
      while (i < line.length && line[i] !== ',') f += line[i++];
    }
    out.push(f);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/** The rows of a RECORD's text (blank lines skipped). */
export function parseRecord(text: string): RecordRow[] {
  const rows: RecordRow[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (!line.trim()) continue;
    const [path = '', hash = '', size = ''] = fields(line);
    rows.push({ path, hash, size, line: n + 1 });
  }
  return rows;
}
