/** Parses `pycodestyle --statistics --count` output into the PEP 8 metric. */

export interface StyleSummary {
  /** Total violations. */
  total: number;
  /** Violation code → count, e.g. E501 → 3. */
  byCode: Record<string, { count: number; text: string }>;
  /** The first violations, for the report. */
  examples: { path: string; line: number; column: number; code: string; text: string }[];
}

const LINE = /^(.+?):(\d+):(\d+): ([EWC]\d{3}) (.*)$/;
const STAT = /^(\d+)\s+([EWC]\d{3}) (.*)$/;

export function parsePycodestyle(output: string, sourceRoot = ''): StyleSummary {
  const byCode: StyleSummary['byCode'] = {};
  const examples: StyleSummary['examples'] = [];
  let total = 0;
  for (const line of output.split('\n').slice(0, 200000)) {
    const m = LINE.exec(line);
    if (m) {
      if (examples.length < 200) {
        let path = m[1]!;
        if (sourceRoot && path.startsWith(sourceRoot)) path = path.slice(sourceRoot.length).replace(/^\//, '');
        examples.push({ path, line: Number(m[2]), column: Number(m[3]), code: m[4]!, text: m[5]!.slice(0, 300) });
      }
      continue;
    }
    const s = STAT.exec(line);
    if (s) {
      byCode[s[2]!] = { count: Number(s[1]), text: s[3]!.slice(0, 300) };
      total += Number(s[1]);
    }
  }
  return { total, byCode, examples };
}
