/** PEP 691 content negotiation for the Simple API: picks a response format from an `Accept` header. */

/** The Simple API's response formats. */
export type SimpleFormat = 'json' | 'html-v1' | 'html-legacy';

/** The Content-Type sent with each format. */
export const SIMPLE_CONTENT_TYPES: Record<SimpleFormat, string> = {
  json: 'application/vnd.pypi.simple.v1+json',
  'html-v1': 'application/vnd.pypi.simple.v1+html',
  'html-legacy': 'text/html',
};

const SERVED: { type: string; format: SimpleFormat }[] = [
  // Order breaks ties between equally weighted wildcards: the legacy HTML page, as pypi.org does.
  { type: 'text/html', format: 'html-legacy' },
  { type: 'application/vnd.pypi.simple.v1+html', format: 'html-v1' },
  { type: 'application/vnd.pypi.simple.latest+html', format: 'html-v1' },
  { type: 'application/vnd.pypi.simple.v1+json', format: 'json' },
  { type: 'application/vnd.pypi.simple.latest+json', format: 'json' },
];

interface Range {
  type: string;
  q: number;
  order: number;
}

function parseAccept(header: string): Range[] {
  const out: Range[] = [];
  header.split(',').forEach((part, order) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) return;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) q = Math.min(1, Math.max(0, Number(m[1])));
    }
    if (!Number.isNaN(q)) out.push({ type: type.toLowerCase(), q, order });
  });
  return out;
}

function specificity(range: string): number {
  return range === '*/*' ? 0 : range.endsWith('/*') ? 1 : 2;
}

function matches(range: string, type: string): boolean {
  return range === '*/*' || range === type || (range.endsWith('/*') && type.startsWith(range.slice(0, -1)));
}

/**
 * The format to answer with, or null when nothing acceptable is served (answer 406). No header,
 * or an empty one, means the legacy HTML page.
 */
export function negotiateSimple(accept: string | undefined): SimpleFormat | null {
  if (!accept || !accept.trim()) return 'html-legacy';
  const ranges = parseAccept(accept);
  let best: { format: SimpleFormat; q: number; spec: number; order: number; served: number } | null = null;
  SERVED.forEach((s, served) => {
    // The most specific matching range decides this type's quality (RFC 9110 §12.5.1).
    const range = ranges.filter((r) => matches(r.type, s.type)).sort((a, b) => specificity(b.type) - specificity(a.type))[0];
    if (!range || range.q <= 0) return;
    const cand = { format: s.format, q: range.q, spec: specificity(range.type), order: range.order, served };
    if (!best || cand.q > best.q || (cand.q === best.q && (cand.spec > best.spec || (cand.spec === best.spec && (cand.order < best.order || (cand.order === best.order && cand.served < best.served)))))) {
      best = cand;
    }
  });
  return (best as { format: SimpleFormat } | null)?.format ?? null;
}
