/**
 * Reading an index through its PEP 691 JSON Simple API only (no XML-RPC), the way bandersnatch
 * follows PyPI since XML-RPC is being retired:
 *
 * - the root `/simple/` with `Accept: application/vnd.pypi.simple.v1+json` lists every project with
 *   pypi.org's `_last-serial` (per project, and the index's in `meta`); it is asked with
 *   `If-None-Match` and the last ETag, so an unchanged index costs one 304 and nothing else;
 * - a project's page `/simple/<project>/` lists its files (PEP 691, with PEP 700's `upload-time`), its
 *   `_last-serial`, and its PEP 792 status (`project-status: {status, reason}`).
 *
 * Security: every answer is untrusted. Bodies are read size-capped (the root up to 512 MiB: PyPI's is
 * about 60 MB; a page up to 32 MiB), redirects are refused (a page is asked for by its normalized
 * name, so the index has no reason to redirect it elsewhere), names, serials and statuses are checked
 * (an entry that is not a project name or whose serial is not a safe integer is left out and counted),
 * file entries go through the same checks as the slave's (`simpleFiles`). A malformed answer is
 * `PYTI_INDEX_MALFORMED`; no answer is `PYTI_INDEX_UNREACHABLE`; a project gone is
 * `PYTI_INDEX_NOT_FOUND`.
 */
import { PytiError } from '@pyti/vm-agent';
import { normalizeIndexUrl, projectSimpleUrl, PROJECT_NAME, simpleFiles, type SimpleFile } from '@pyti/common';
import { readCappedText } from './http-body.js';
import { normalizeName } from './pep.js';

/** What the JSON Simple API is asked for. */
export const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

/** PEP 792 statuses. */
export const PROJECT_STATUSES = ['active', 'archived', 'quarantined', 'deprecated'] as const;
export type ProjectStatus = typeof PROJECT_STATUSES[number];

/** One project of the root listing. */
export interface SimpleRootProject {
  name: string;
  normalized: string;
  /** pypi.org's `_last-serial` of the project. */
  lastSerial: number;
}

/** The root listing, or `notModified` when the ETag still matches. */
export type SimpleRoot =
  | { notModified: true }
  | { notModified: false; etag: string | null; lastSerial: number | null; projects: SimpleRootProject[]; skipped: number };

/** A file of a project page, with its upload time (PEP 700) when the index gives one. */
export interface SimpleProjectFile extends SimpleFile {
  /** ms since the epoch, or null. */
  uploadMs: number | null;
}

/** A project's page. */
export interface SimpleProject {
  name: string;
  normalized: string;
  /** `_last-serial` (meta), else `X-PyPI-Last-Serial`, else null. */
  lastSerial: number | null;
  /** PEP 792; `active` when the page names none. */
  status: ProjectStatus;
  statusReason: string | null;
  files: SimpleProjectFile[];
}

export interface SimpleIndexReaderOptions {
  /** The index base, e.g. `https://pypi.org`; the Simple API is at `<indexUrl>/simple/`. */
  indexUrl: string;
  /** Per request. Default 120 s for the root, 30 s for a page. */
  timeoutMs?: number;
  maxRootBytes?: number;
  maxPageBytes?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

function malformed(url: string, why: string): PytiError {
  return new PytiError('PYTI_INDEX_MALFORMED', `${url}: ${why}`);
}

const serialOf = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

function headerSerial(res: Response): number | null {
  const h = res.headers.get('x-pypi-last-serial')?.trim();
  return h && /^\d{1,15}$/.test(h) ? Number(h) : null;
}

/** Reads the root listing and project pages of one index (see the module comment). */
export class SimpleIndexReader {
  private readonly root: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: SimpleIndexReaderOptions) {
    this.root = `${normalizeIndexUrl(opts.indexUrl)}/simple/`;
    this.fetch = opts.fetch ?? fetch;
  }

  private async get(url: string, what: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Response> {
    const signals = [AbortSignal.timeout(timeoutMs), ...(this.opts.signal ? [this.opts.signal] : [])];
    try {
      return await this.fetch(url, { headers: { accept: SIMPLE_JSON, 'user-agent': 'pyti-master', ...headers }, redirect: 'error', signal: AbortSignal.any(signals) });
    } catch (err) {
      if (this.opts.signal?.aborted) throw this.opts.signal.reason;
      throw new PytiError('PYTI_INDEX_UNREACHABLE', `${what}: ${url}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async json(res: Response, url: string, max: number): Promise<Record<string, unknown>> {
    const type = res.headers.get('content-type') ?? '';
    if (!type.toLowerCase().startsWith(SIMPLE_JSON)) {
      await res.body?.cancel().catch(() => undefined);
      throw malformed(url, `answered ${JSON.stringify(type.slice(0, 80))}, not ${SIMPLE_JSON}`);
    }
    const text = await readCappedText(res, max, url, 'PYTI_INDEX_MALFORMED');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw malformed(url, 'not JSON');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed(url, 'not a JSON object');
    return doc as Record<string, unknown>;
  }

  /** The root listing; with `etag`, a 304 is `{notModified: true}`. */
  async rootListing(etag?: string | null): Promise<SimpleRoot> {
    const url = this.root;
    const res = await this.get(url, 'the Simple API root', this.opts.timeoutMs ?? 120_000, etag ? { 'if-none-match': etag } : {});
    if (res.status === 304) {
      await res.body?.cancel().catch(() => undefined);
      return { notModified: true };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new PytiError('PYTI_INDEX_UNREACHABLE', `the Simple API root: ${url}: HTTP ${res.status}`);
    }
    const doc = await this.json(res, url, this.opts.maxRootBytes ?? 512 * 1024 * 1024);
    const list = doc['projects'];
    if (!Array.isArray(list)) throw malformed(url, '"projects" is not an array');
    const meta = (typeof doc['meta'] === 'object' && doc['meta'] !== null ? doc['meta'] : {}) as Record<string, unknown>;
    const projects: SimpleRootProject[] = [];
    let skipped = 0;
    for (const p of list) {
      const name = (p as Record<string, unknown> | null)?.['name'];
      const serial = serialOf((p as Record<string, unknown> | null)?.['_last-serial']);
      if (typeof name !== 'string' || name.length > 200 || !PROJECT_NAME.test(name) || serial === null) { skipped++; continue; }
      projects.push({ name, normalized: normalizeName(name), lastSerial: serial });
    }
    if (projects.length === 0 && list.length > 0) throw malformed(url, 'no project carries a name and a whole-number `_last-serial` (an index without pypi.org\'s serials cannot be followed this way)');
    const tag = res.headers.get('etag');
    return { notModified: false, etag: tag && tag.length <= 200 ? tag : null, lastSerial: serialOf(meta['_last-serial']) ?? headerSerial(res), projects, skipped };
  }

  /** One project's page. */
  async project(name: string): Promise<SimpleProject> {
    const url = projectSimpleUrl(this.root, name);
    const res = await this.get(url, `the Simple API page of ${name}`, this.opts.timeoutMs ?? 30_000);
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel().catch(() => undefined);
      throw new PytiError('PYTI_INDEX_NOT_FOUND', `${name}: the index has no such project (HTTP ${res.status} from ${url})`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new PytiError('PYTI_INDEX_UNREACHABLE', `the Simple API page of ${name}: ${url}: HTTP ${res.status}`);
    }
    const doc = await this.json(res, url, this.opts.maxPageBytes ?? 32 * 1024 * 1024);
    const meta = (typeof doc['meta'] === 'object' && doc['meta'] !== null ? doc['meta'] : {}) as Record<string, unknown>;
    const docName = doc['name'];
    if (typeof docName === 'string' && normalizeName(docName) !== normalizeName(name)) {
      throw new PytiError('PYTI_INDEX_MISMATCH', `${url}: the page is for ${JSON.stringify(docName.slice(0, 100))}, not ${name}`);
    }
    const { status, reason } = projectStatusOf(doc, url);
    const files = simpleFiles(JSON.stringify(doc), SIMPLE_JSON, url, name);
    const uploads = new Map<string, number | null>();
    for (const f of doc['files'] as Record<string, unknown>[]) {
      const t = f['upload-time'];
      const ms = typeof t === 'string' && t.length <= 40 ? Date.parse(t) : NaN;
      if (typeof f['filename'] === 'string') uploads.set(f['filename'], Number.isFinite(ms) ? ms : null);
    }
    return {
      name, normalized: normalizeName(name), lastSerial: serialOf(meta['_last-serial']) ?? headerSerial(res), status, statusReason: reason,
      files: files.map((f) => ({ ...f, uploadMs: uploads.get(f.filename) ?? null })),
    };
  }
}

/**
 * PEP 792's status of a JSON project page: `project-status: {status, reason?}` (absent: active). A
 * status outside the four PEP 792 names is malformed; a reason is capped at 500 characters.
 */
export function projectStatusOf(doc: Record<string, unknown>, url: string): { status: ProjectStatus; reason: string | null } {
  const ps = doc['project-status'];
  if (ps === undefined || ps === null) return { status: 'active', reason: null };
  if (typeof ps !== 'object' || Array.isArray(ps)) throw malformed(url, '"project-status" is not an object');
  const { status, reason } = ps as Record<string, unknown>;
  if (typeof status !== 'string' || !(PROJECT_STATUSES as readonly string[]).includes(status)) {
    throw malformed(url, `"project-status" ${JSON.stringify(String(status).slice(0, 40))} is not one of ${PROJECT_STATUSES.join(', ')}`);
  }
  return { status: status as ProjectStatus, reason: typeof reason === 'string' && reason ? reason.slice(0, 500) : null };
}
