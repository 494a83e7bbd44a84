/** PEP 503 project-name normalization and a PEP 440 ordering good enough for test indexes. */

/** The PEP 503 normalized form of a project name: runs of `-`, `_`, `.` become `-`, lowercased. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** Whether `name` is a valid project name (PEP 508 identifier). */
export function isValidName(name: string): boolean {
  return /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i.test(name);
}

interface ParsedVersion {
  release: number[];
  pre: [number, number] | null; // [0=a|1=b|2=rc, n]
  post: number | null;
  dev: number | null;
}

const VERSION_RE = /^v?(?:\d+!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?(\d*))?(?:(?:-(\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(\d*)))?(?:[-_.]?dev[-_.]?(\d*))?(?:\+[a-z0-9.]+)?$/i;

function parseVersion(v: string): ParsedVersion | null {
  const m = VERSION_RE.exec(v.trim());
  if (!m) return null;
  const preKind = m[2]?.toLowerCase();
  const pre: [number, number] | null = preKind ? [preKind.startsWith('a') ? 0 : preKind.startsWith('b') ? 1 : 2, Number(m[3] || 0)] : null;
  const post = m[4] !== undefined ? Number(m[4]) : m[5] !== undefined ? Number(m[5] || 0) : null;
  const dev = m[6] !== undefined ? Number(m[6] || 0) : null;
  return { release: m[1]!.split('.').map(Number), pre, post, dev };
}

/** Whether `v` is a pre-release or development release (PEP 440). */
export function isPrerelease(v: string): boolean {
  const p = parseVersion(v);
  return !!p && (p.pre !== null || p.dev !== null);
}

/** Compares two versions in PEP 440 order (epochs and local labels ignored); unparsable ones sort first, by text. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a.localeCompare(b);
  const n = Math.max(pa.release.length, pb.release.length);
  for (let i = 0; i < n; i++) {
    const d = (pa.release[i] ?? 0) - (pb.release[i] ?? 0);
    if (d) return d;
  }
  // Within a release: X.devN < X.aN < X.bN < X.rcN < X < X.postN.
  const key = (p: ParsedVersion): number[] => [
    p.pre === null && p.post === null && p.dev !== null ? -1 : 0,
    p.pre ? p.pre[0] : 3, p.pre ? p.pre[1] : 0,
    p.post === null ? -1 : p.post,
    p.dev === null ? Infinity : p.dev,
  ];
  const ka = key(pa);
  const kb = key(pb);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return 0;
}
