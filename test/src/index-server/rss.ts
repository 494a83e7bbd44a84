/**
 * pypi.org's RSS feeds, as warehouse renders them (`warehouse/templates/rss/base.xml`,
 * `updates.xml`, `packages.xml`; views in `warehouse/rss/views.py`), served as `text/xml`:
 *
 * - the channel: the `<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" …>` and
 *   `<rss version="0.91">` warehouse declares, title, link to the index, description, `<language>en`;
 * - `/rss/updates.xml`: the newest releases (by creation, 100), newest first: `<title>{name}
 *   {version}</title>`, `<link>{url}/project/{normalized}/{version}/</link>`, `<description>` the
 *   release's summary, `<author>` only when the metadata has valid-looking author emails (this
 *   index's distributions carry none, so never), `<pubDate>` in RFC 822 with one-second resolution
 *   (Python's `email.utils.formatdate(ts, usegmt=True)`), and no `<guid>`;
 * - `/rss/packages.xml`: the newest projects (by creation, 40 as warehouse's view limits them):
 *   `<title>{name} added to PyPI</title>`, `<link>` and `<guid>` both `{url}/project/{normalized}/`,
 *   `<description>` the summary of its newest release (`project.releases[0]`), `<pubDate>` the project's creation.
 *
 * Text is escaped as Jinja's autoescape (markupsafe) does.
 */
import type { IndexedProject, IndexedRelease } from './index-state.js';
import { compareVersions } from './names.js';

/** warehouse's item counts: 100 releases in updates.xml, 40 projects in packages.xml. */
export const PYPI_RSS_ITEMS = { updates: 100, packages: 40 } as const;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 822 date as `email.utils.formatdate(ms / 1000, usegmt=True)` writes it, e.g. `Tue, 14 Nov 2023 22:13:20 GMT`. */
export function rfc822(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`;
}

/** markupsafe's escape; characters XML 1.0 cannot carry are dropped (warehouse's `remove_invalid_xml_unicode`). */
function esc(s: string | null | undefined): string {
  return (s ?? '').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

function channel(baseUrl: string, title: string, description: string, items: string): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://www.rssboard.org/rss-0.91.dtd">\n'
    + '<rss version="0.91">\n  <channel>\n'
    + `    <title>${esc(title)}</title>\n    <link>${esc(`${baseUrl}/`)}</link>\n    <description>${esc(description)}</description>\n    <language>en</language>`
    + `${items}\n  </channel>\n</rss>\n`;
}

/** `/rss/updates.xml` for `releases` (newest first); `nameOf` gives a release's project name. */
export function renderUpdates(baseUrl: string, releases: IndexedRelease[], nameOf: (r: IndexedRelease) => string): string {
  const items = releases.map((r) => `\n    <item>\n      <title>${esc(`${nameOf(r)} ${r.version}`)}</title>\n`
    + `      <link>${esc(`${baseUrl}/project/${r.project}/${r.version}/`)}</link>\n`
    + `      <description>${esc(r.meta.summary)}</description>\n`
    + `      <pubDate>${rfc822(r.created)}</pubDate>\n    </item>`).join('');
  return channel(baseUrl, 'PyPI recent updates', 'Recent updates to the Python Package Index', items);
}

/** `/rss/packages.xml` for `projects` (newest first). */
export function renderPackages(baseUrl: string, projects: IndexedProject[]): string {
  const items = projects.map((p) => {
    const link = esc(`${baseUrl}/project/${p.project}/`);
    const top = [...p.releases.values()].sort((a, b) => compareVersions(b.version, a.version))[0]; // releases[0]: by _pypi_ordering desc
    return `\n    <item>\n      <title>${esc(`${p.name} added to PyPI`)}</title>\n      <link>${link}</link>\n      <guid>${link}</guid>\n`
      + `      <description>${esc(top?.meta.summary)}</description>\n      <pubDate>${rfc822(p.created)}</pubDate>\n    </item>`;
  }).join('');
  return channel(baseUrl, 'PyPI newest packages', 'Newest packages registered at the Python Package Index', items);
}
