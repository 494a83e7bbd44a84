/** Summarises coverage.py's JSON report: line coverage per file and in total. */

export interface CoverageSummary {
  percent: number | null;
  coveredLines: number;
  statements: number;
  files: { path: string; percent: number; statements: number; missing: number }[];
  note?: string;
}

/** Where the test task (tasks/guest/run_tests.py) puts its copy of the sdist: `{data:test-run}/tree/`. */
const TEST_TREE = '/data/test-run/tree/';

export function parseCoverage(json: string): CoverageSummary {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(json) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`malformed coverage JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null) throw new Error('malformed coverage JSON: not an object');
  if (typeof doc.note === 'string' && !doc.totals) return { percent: null, coveredLines: 0, statements: 0, files: [], note: doc.note.slice(0, 200) };
  const totals = (doc.totals ?? {}) as Record<string, unknown>;
  const files = Object.entries((doc.files ?? {}) as Record<string, Record<string, unknown>>).slice(0, 2000).map(([path, f]) => {
    const s = (f.summary ?? {}) as Record<string, unknown>;
    // The installed copy, or the test task's copy of the sdist (flat layouts: the tests import it).
    const site = path.indexOf('site-packages/');
    const tree = path.indexOf(TEST_TREE);
    return {
      path: (site >= 0 ? path.slice(site + 'site-packages/'.length) : tree >= 0 ? path.slice(tree + TEST_TREE.length) : path).slice(0, 500),
      percent: Math.round((Number(s.percent_covered) || 0) * 10) / 10,
      statements: Number(s.num_statements) || 0,
      missing: Number(s.missing_lines) || 0,
    };
  });
  return {
    percent: totals.percent_covered === undefined ? null : Math.round(Number(totals.percent_covered) * 10) / 10,
    coveredLines: Number(totals.covered_lines) || 0,
    statements: Number(totals.num_statements) || 0,
    files,
  };
}
