/**
 * The audit page's metadata panel: the package's core metadata from the stored report (summary,
 * author, maintainer, licence, home page and project URLs, requires-python, requires-dist, extras,
 * keywords, classifiers, and the description as escaped preformatted text — never rendered as HTML
 * or markdown). The stored report came from a slave: every field is type-checked and capped here,
 * everything escaped, and only http(s) URLs become links (rel="nofollow noopener noreferrer").
 */
import { esc } from '@pyti/common';

const MAX_FIELD = 2000;
const MAX_LIST = 200;
const MAX_DESCRIPTION = 64 * 1024;

const str = (v: unknown, max = MAX_FIELD): string | undefined => (typeof v === 'string' && v.trim() ? v.slice(0, max) : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX_LIST).map((x) => x.slice(0, MAX_FIELD)) : []);

/** A link for http(s) URLs only; anything else (`javascript:` …) is shown as text. */
function safeLink(url: string, text = url): string {
  return /^https?:\/\/[^\s]+$/i.test(url) ? `<a href="${esc(url)}" rel="nofollow noopener noreferrer">${esc(text)}</a>` : `<code>${esc(url)}</code>`;
}

/** The panel's HTML ('' when the report has no distribution metadata or does not parse). */
export function metadataPanel(reportJson: string | null): string {
  let d: Record<string, unknown>;
  try {
    const r = JSON.parse(reportJson ?? 'null') as { distribution?: unknown } | null;
    if (!r || typeof r.distribution !== 'object' || r.distribution === null) return '';
    d = r.distribution as Record<string, unknown>;
  } catch {
    return '';
  }
  const row = (k: string, v: string | undefined): string => (v ? `<dt>${esc(k)}</dt><dd>${v}</dd>` : '');
  const person = (name: unknown, email: unknown): string | undefined => {
    const n = str(name);
    const e = str(email);
    return n || e ? `${esc(n ?? '')}${e ? ` <code>${esc(e)}</code>` : ''}` : undefined;
  };
  const urls = (Array.isArray(d.projectUrls) ? d.projectUrls : []).slice(0, MAX_LIST)
    .filter((u): u is { label: unknown; url: unknown } => typeof u === 'object' && u !== null)
    .map((u) => ({ label: str(u.label, 200) ?? '', url: str(u.url) ?? '' })).filter((u) => u.url);
  const licence = str(d.licenseExpression) ?? str(d.license);
  const list = (v: unknown, code = true): string | undefined => {
    const xs = strs(v);
    return xs.length ? xs.map((x) => (code ? `<code>${esc(x)}</code>` : esc(x))).join('<br>') : undefined;
  };
  const rows = [
    row('summary', str(d.summary) && esc(str(d.summary))),
    row('author', person(d.author, d.authorEmail)),
    row('maintainer', person(d.maintainer, d.maintainerEmail)),
    row('licence', licence && (licence.includes('\n') || licence.length > 200
      ? `<details><summary>${esc(licence.split('\n')[0]!.slice(0, 120))}</summary><pre>${esc(licence)}</pre></details>` : esc(licence))),
    row('home page', str(d.homePage) && safeLink(str(d.homePage)!)),
    row('project URLs', urls.length ? urls.map((u) => `${esc(u.label)}${u.label ? ': ' : ''}${safeLink(u.url)}`).join('<br>') : undefined),
    row('requires Python', str(d.requiresPython) && `<code>${esc(str(d.requiresPython))}</code>`),
    row('requires', list(d.requiresDist)),
    row('extras', list(d.providesExtra)),
    row('keywords', strs(d.keywords).length ? strs(d.keywords).map((k) => esc(k)).join(', ') : undefined),
    row('classifiers', list(d.classifiers, false)),
  ].join('');
  const description = str(d.description, MAX_DESCRIPTION);
  const ctype = str(d.descriptionContentType, 200);
  const desc = description
    ? `<details><summary>description${ctype ? ` (${esc(ctype)}, shown as text)` : ''}${d.descriptionTruncated === true || description.length >= MAX_DESCRIPTION ? ', truncated' : ''}</summary><pre>${esc(description)}</pre></details>`
    : '';
  const name = str(d.name, 200);
  const version = str(d.version, 200);
  if (!rows && !desc && !name) return '';
  const head = name ? `<p><b>${esc(name)}</b> ${esc(version ?? '')}${str(d.filename, 300) ? ` · <code>${esc(str(d.filename, 300))}</code>` : ''}</p>` : '';
  return `<section class="metadata"><h2>Package metadata</h2>${head}${rows ? `<dl class="meta">${rows}</dl>` : '<p class="muted">The distribution declares no summary, author, licence, URLs, requirements or classifiers.</p>'}${desc}</section>`;
}
