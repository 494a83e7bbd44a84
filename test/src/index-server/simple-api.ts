/**
 * The Simple Repository API pages: PEP 503 HTML (with PEP 629's repository version) and PEP 691
 * JSON (with PEP 700's versions, size and upload-time), for the project list and for one project.
 * Yanked files (PEP 592) carry `data-yanked="<reason>"` (empty without a reason) in HTML and
 * `"yanked": "<reason>"` or `true` in JSON, as warehouse's simple views write them.
 */
import type { IndexedFile } from './catalog.js';
import type { SimpleFormat } from './negotiate.js';

/** The API version announced in HTML `<meta>` and JSON `meta.api-version`. */
export const SIMPLE_API_VERSION = '1.1';

/** A file as a Simple page lists it: the hash may be the published (possibly wrong) one. */
export interface SimpleFileEntry {
  file: IndexedFile;
  /** Absolute URL of the file. */
  url: string;
  /** The sha256 the index publishes for it. */
  sha256: string;
  /** PEP 592: whether its release is yanked, and why (null: no reason given). */
  yanked: boolean;
  yankedReason: string | null;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="${SIMPLE_API_VERSION}">\n    <title>${escapeHtml(title)}</title>\n  </head>\n  <body>\n${body}  </body>\n</html>\n`;
}

/** PEP 792 project status, as the JSON project page carries it (`project-status`) when it is not `active`. */
export interface ProjectStatusMarker {
  status: 'active' | 'archived' | 'quarantined' | 'deprecated';
  reason: string | null;
}

/**
 * The project list (`/simple/`). `projects` are normalized names. JSON carries pypi.org's
 * `_last-serial`: the index's in `meta`, each project's on its entry (what mirrors diff against).
 */
export function renderProjectList(format: SimpleFormat, projects: { name: string; project: string; lastSerial?: number }[], lastSerial?: number | null): string {
  if (format === 'json') {
    return JSON.stringify({
      meta: { 'api-version': SIMPLE_API_VERSION, ...(lastSerial != null ? { '_last-serial': lastSerial } : {}) },
      projects: projects.map((p) => ({ name: p.name, ...(p.lastSerial !== undefined ? { '_last-serial': p.lastSerial } : {}) })),
    });
  }
  const links = projects.map((p) => `    <a href="/simple/${encodeURIComponent(p.project)}/">${escapeHtml(p.name)}</a><br/>\n`).join('');
  return htmlPage('Simple index', links);
}

/**
 * One project's page (`/simple/<project>/`). With `lastSerial`, JSON's `meta` carries the project's
 * `_last-serial`; a `status` other than active is PEP 792's `project-status` (JSON) and
 * `pypi:project-status` / `pypi:project-status-reason` meta tags (HTML).
 */
export function renderProjectPage(format: SimpleFormat, project: string, versions: string[], entries: SimpleFileEntry[], extra: { lastSerial?: number; status?: ProjectStatusMarker } = {}): string {
  const status = extra.status && extra.status.status !== 'active' ? extra.status : undefined;
  if (format === 'json') {
    return JSON.stringify({
      meta: { 'api-version': SIMPLE_API_VERSION, ...(extra.lastSerial !== undefined ? { '_last-serial': extra.lastSerial } : {}) },
      name: project,
      ...(status ? { 'project-status': { status: status.status, ...(status.reason ? { reason: status.reason } : {}) } } : {}),
      versions,
      files: entries.map((e) => ({
        filename: e.file.filename,
        url: e.url,
        hashes: { sha256: e.sha256 },
        ...(e.file.requiresPython ? { 'requires-python': e.file.requiresPython } : {}),
        size: e.file.size,
        'upload-time': e.file.uploadTime,
        yanked: e.yanked ? (e.yankedReason || true) : false,
      })),
    });
  }
  const links = entries.map((e) => {
    const rp = e.file.requiresPython ? ` data-requires-python="${escapeHtml(e.file.requiresPython)}"` : '';
    const yanked = e.yanked ? ` data-yanked="${escapeHtml(e.yankedReason ?? '')}"` : '';
    return `    <a href="${escapeHtml(`${e.url}#sha256=${e.sha256}`)}"${rp}${yanked}>${escapeHtml(e.file.filename)}</a><br/>\n`;
  }).join('');
  const page = htmlPage(`Links for ${project}`, `    <h1>Links for ${escapeHtml(project)}</h1>\n${links}`);
  if (!status) return page;
  const tags = `    <meta name="pypi:project-status" content="${escapeHtml(status.status)}">\n${status.reason ? `    <meta name="pypi:project-status-reason" content="${escapeHtml(status.reason)}">\n` : ''}`;
  return page.replace('    <title>', `${tags}    <title>`);
}
