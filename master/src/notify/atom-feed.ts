/**
 * Atom 1.0 (RFC 4287) feeds of audits. Every text is XML-escaped and stripped of the characters
 * XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): project names,
 * versions and results come from uploads and slaves and are untrusted.
 */

/** One finished audit as a feed entry. */
export interface FeedAudit {
  id: string;
  project: string;
  version: string;
  filename: string | null;
  state: string;
  verdict: string | null;
  score: number | null;
  result: string | null;
  findings: number | null;
  errorCode: string | null;
  /** Epoch ms. */
  finishedAt: number;
}

export interface AtomFeed {
  /** The feed's own URL (without any token): its id and `self` link. */
  selfUrl: string;
  /** The HTML page the feed follows. */
  htmlUrl: string;
  title: string;
  /** Base URL of audit pages (`<base>/audits/<id>`). */
  publicUrl: string;
  audits: FeedAudit[];
  /** When the feed is empty, its `updated` (epoch ms). */
  now: number;
}

// eslint-disable-next-line no-control-regex
const NOT_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text safe inside an XML element or attribute value. */
export function xmlText(v: unknown): string {
  return String(v ?? '').replace(NOT_XML, '\ufffd').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const iso = (ms: number): string => new Date(ms).toISOString();

function entry(a: FeedAudit, publicUrl: string): string {
  const url = `${publicUrl}/audits/${encodeURIComponent(a.id)}`;
  const outcome = a.state === 'done' ? `${a.verdict ?? 'unjudged'} (${a.result ?? 'no result'})` : `${a.state}${a.errorCode ? ` (${a.errorCode})` : ''}`;
  const summary = a.state === 'done'
    ? `${a.project} ${a.version}${a.filename ? ` (${a.filename})` : ''}: verdict ${a.verdict ?? '-'}, score ${a.score ?? '-'}, result ${a.result ?? '-'}, ${a.findings ?? 0} finding(s) above info.`
    : `${a.project} ${a.version}: the audit ended as ${a.state}${a.errorCode ? ` (${a.errorCode})` : ''}.`;
  return `<entry><id>${xmlText(url)}</id><title type="text">${xmlText(`${a.project} ${a.version}: ${outcome}`)}</title>`
    + `<updated>${iso(a.finishedAt)}</updated><link rel="alternate" type="text/html" href="${xmlText(url)}"/>`
    + `${a.verdict ? `<category term="${xmlText(a.verdict)}" label="verdict"/>` : ''}`
    + `<summary type="text">${xmlText(summary)}</summary></entry>`;
}

/** The feed document. */
export function renderAtom(f: AtomFeed): string {
  const updated = f.audits.length ? Math.max(...f.audits.map((a) => a.finishedAt)) : f.now;
  return '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    + `<id>${xmlText(f.selfUrl)}</id><title type="text">${xmlText(f.title)}</title><updated>${iso(updated)}</updated>`
    + `<link rel="self" type="application/atom+xml" href="${xmlText(f.selfUrl)}"/><link rel="alternate" type="text/html" href="${xmlText(f.htmlUrl)}"/>`
    + '<author><name>PyTI</name></author><generator>PyTI</generator>'
    + f.audits.map((a) => entry(a, f.publicUrl)).join('')
    + '</feed>\n';
}
