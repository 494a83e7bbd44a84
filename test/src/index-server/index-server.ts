/**
 * A PyPI-compatible package index for tests (PyPI itself cannot be reached from test machines). It
 * serves distribution files the way pypi.org does, so production code talks to it exactly as to
 * pypi.org and only the URL differs:
 *
 * - Simple API: `/simple/` and `/simple/<project>/` as PEP 503 HTML or PEP 691 JSON (negotiated on
 *   `Accept`, or `?format=`), with sha256 hashes, requires-python and PEP 592 yanks; non-normalized
 *   project names redirect (301) to the PEP 503 normalized URL.
 * - JSON API: `/pypi/<project>/json` and `/pypi/<project>/<version>/json`, with `yanked` and
 *   `yanked_reason`.
 * - `X-PyPI-Last-Serial`: on `/simple/` the index's last serial; on `/simple/<project>/` and the
 *   JSON API the project's last serial (also the JSON `last_serial`), as warehouse sets them. The
 *   PEP 691 JSON pages carry pypi.org's `_last-serial` too (in `meta`, and per project on `/simple/`),
 *   and every Simple page an `ETag` (per serial and format) answering `If-None-Match` with 304.
 * - PEP 792 project status (`setProjectStatus`, `POST /-/project-status`): `project-status` on the
 *   JSON project page, `pypi:project-status` meta tags in HTML; a quarantined project lists no files.
 * - Files: `/packages/<sha256[0:2]>/<sha256[2:4]>/<sha256>/<filename>`.
 * - The change log over XML-RPC (`POST /pypi`, `/pypi/`, `/RPC2`; xmlrpc-api.ts): every change gets
 *   a serial from `serialBase` up, with pypi.org's action texts (journal.ts).
 * - RSS: `/rss/updates.xml` and `/rss/packages.xml` (rss.ts).
 * - Observations: `POST /danger-api/projects/<name>/observations` as PyPI's (danger-api.ts), checked
 *   against `observationsToken` and recorded in `server.observations`.
 *
 * Changes while running (in-process methods below, or the test-only HTTP endpoints of admin-api.ts):
 * `publish(path)` (records `create` / `new release` as needed and `add <python_version> file
 * <filename>`), `yank`, `unyank`, `removeFile`, `removeRelease`, `removeProject`, `addNoise` (an
 * entry PyTI must ignore, e.g. `add Owner alice`). The files given at start are published in order.
 * Removed files disappear from every API; a yanked release's files stay, marked yanked.
 *
 * Test-only extras: fault injection at start (`corrupt`: publish wrong digests for a file;
 * `missing`: list a file whose download then answers 404) and while running (`injectFaults`:
 * rate-limit faults, truncated or malformed XML-RPC and RSS answers, stale JSON API answers; see
 * fault-injection.ts), and a request log, in-process (`server.requests`) and at `GET /-/requests`
 * (JSON array of `{method, path, status}`; requests to the test-only `/-/…` endpoints are not logged).
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAdminPost, runAdmin, type AdminOperations } from './admin-api.js';
import { answerObservation, isObservationsPath, type ReceivedObservation } from './danger-api.js';
import { indexFile, type IndexedFile } from './catalog.js';
import { FaultInjector, type FaultPlan, type PendingFaults } from './fault-injection.js';
import { IndexState } from './index-state.js';
import { Journal } from './journal.js';
import { projectDocument, releaseDocument, type JsonFileEntry } from './json-api.js';
import { normalizeName } from './names.js';
import { negotiateSimple, SIMPLE_CONTENT_TYPES, type SimpleFormat } from './negotiate.js';
import { Publisher } from './publisher.js';
import { PYPI_RSS_ITEMS, renderPackages, renderUpdates } from './rss.js';
import { renderProjectList, renderProjectPage } from './simple-api.js';
import { answerXmlRpc, PYPI_CHANGELOG_PAGE, rateLimitAnswer } from './xmlrpc-api.js';

export type { FaultPlan, PendingFaults } from './fault-injection.js';
export type { ReceivedObservation } from './danger-api.js';

/** How to start a test index. */
export interface IndexServerOptions {
  /** Distribution files (sdists `.tar.gz`, wheels `.whl`) to serve, published in this order at start; their metadata is read from them. */
  files: string[];
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Filenames (basenames of `files`) whose published digests are wrong: clients must reject the download. */
  corrupt?: string[];
  /** Filenames listed by the APIs whose download answers 404. */
  missing?: string[];
  /** Called after each logged request (the process entry prints them). */
  onRequest?: (r: IndexRequest) => void;
  /** The first serial of the change log; default 1000 (so that clients assume nothing about 0). */
  serialBase?: number;
  /** Entries per `changelog_since_serial` answer; default 50 000 as pypi.org. */
  changelogPageSize?: number;
  /** Items per RSS feed; default 100 in updates.xml and 40 in packages.xml, as pypi.org. */
  rssItems?: number;
  /** The index's clock, ms since the epoch (change-log timestamps, upload times, RSS pubDates); default `Date.now`. */
  clock?: () => number;
  /** The API token the observations endpoint (danger-api.ts) accepts; without it every observation is refused (403). */
  observationsToken?: string;
}

/** One request the index answered. `path` is the request target as received (path and query). */
export interface IndexRequest {
  method: string;
  path: string;
  status: number;
}

/** One change-log entry as `changelog_since_serial` returns it: `[name, version, timestamp, action, serial]`. */
export type ChangelogEntry = [name: string, version: string | null, timestamp: number, action: string, serial: number];

/** A running test index. The change methods return the serial of the last entry they recorded and throw when the change does not fit. */
export interface IndexServer {
  /** `http://HOST:PORT`, no trailing slash. */
  url: string;
  /** `${url}/simple/`: what pip's `--index-url` takes. */
  simpleUrl: string;
  /** `${url}/pypi`: the XML-RPC endpoint (what `xmlrpc.client.ServerProxy` takes). */
  xmlrpcUrl: string;
  /** Every request answered so far, in order (a live array). */
  requests: IndexRequest[];
  /** Every observation the danger API accepted, in order (a live array). */
  observations: ReceivedObservation[];
  /** Serves one more distribution file; serving the same file again is a no-op (kept for older tests; see `publish`). */
  addFile(path: string): Promise<void>;
  /** Publishes a distribution file; a filename used before (even if removed since) is refused, as pypi.org does. */
  publish(path: string): Promise<number>;
  /** Yanks a release (`yank release`); `reason` becomes `yanked_reason`. */
  yank(name: string, version: string, reason?: string): number;
  /** Un-yanks a release (`unyank release`). */
  unyank(name: string, version: string): number;
  /** Removes one file (`remove file <filename>`); its release stays. */
  removeFile(filename: string): number;
  /** Removes a release and its files (`remove release`). */
  removeRelease(name: string, version: string): number;
  /** Removes a project (`remove project`). */
  removeProject(name: string): number;
  /** Records a change-log entry that changes nothing served, e.g. `add Owner alice`, `update classifiers`. */
  addNoise(name: string, action: string, version?: string | null): number;
  /** Sets a project's PEP 792 status (`active`, `archived`, `quarantined`, `deprecated`), served on its Simple page; a quarantined project lists no files. */
  setProjectStatus(name: string, status: string, reason?: string): number;
  /** The newest serial (`changelog_last_serial`), null while nothing was published. */
  lastSerial(): number | null;
  /** The whole change log, ascending. */
  changelog(): ChangelogEntry[];
  /** Injects faults into the next answers (fault-injection.ts). */
  injectFaults(plan: FaultPlan): void;
  /** The faults still pending. */
  pendingFaults(): PendingFaults;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Test-only: the largest POST body the index reads. */
const MAX_BODY = 1024 * 1024;

/** A digest the index publishes instead of the real one for a `corrupt` file: the last hex digit changed. */
function wrongDigest(hex: string): string {
  return hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0');
}

function checkNames(kind: string, names: string[] | undefined, files: IndexedFile[]): Set<string> {
  const known = new Set(files.map((f) => f.filename));
  for (const n of names ?? []) {
    if (!known.has(n)) throw new Error(`test index: ${kind} names ${JSON.stringify(n)}, which is not among the served files (${[...known].join(', ') || 'none'})`);
  }
  return new Set(names ?? []);
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`test index: ${name} must be a positive integer, not ${v}`);
  return v;
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts a test index serving `opts.files`; rejects with a clear error for a file that is not a valid distribution. */
export async function startIndexServer(opts: IndexServerOptions): Promise<IndexServer> {
  if (!opts || !Array.isArray(opts.files)) throw new Error('test index: options.files must be an array of distribution paths');
  const pageSize = positive('changelogPageSize', opts.changelogPageSize, PYPI_CHANGELOG_PAGE);
  const rssItems = opts.rssItems === undefined ? PYPI_RSS_ITEMS : { updates: positive('rssItems', opts.rssItems, 1), packages: opts.rssItems };
  const clock = opts.clock ?? Date.now;
  const state = new IndexState();
  const journal = new Journal(opts.serialBase);
  const publisher = new Publisher(journal, state, clock);
  const faults = new FaultInjector();
  const initial = await Promise.all(opts.files.map((f) => indexFile(f)));
  for (const f of initial) publisher.publish(f, { idempotent: true });
  const corrupt = checkNames('corrupt', opts.corrupt, initial);
  const missing = checkNames('missing', opts.missing, initial);
  const requests: IndexRequest[] = [];
  const observations: ReceivedObservation[] = [];
  const log = (r: IndexRequest): void => {
    requests.push(r);
    opts.onRequest?.(r);
  };
  const host = opts.host ?? '127.0.0.1';
  let selfUrl = '';

  const published = (f: IndexedFile): IndexedFile['digests'] => corrupt.has(f.filename)
    ? { sha256: wrongDigest(f.digests.sha256), md5: wrongDigest(f.digests.md5), blake2b_256: wrongDigest(f.digests.blake2b_256) }
    : f.digests;

  const ops: AdminOperations & Pick<IndexServer, 'addFile'> = {
    async addFile(path) {
      publisher.publish(await indexFile(path), { idempotent: true });
    },
    async publish(path) {
      return publisher.publish(await indexFile(path));
    },
    yank: (name, version, reason) => publisher.yank(name, version, reason),
    unyank: (name, version) => publisher.unyank(name, version),
    removeFile: (filename) => publisher.removeFile(filename),
    removeRelease: (name, version) => publisher.removeRelease(name, version),
    removeProject: (name) => publisher.removeProject(name),
    addNoise: (name, action, version) => publisher.addNoise(name, action, version ?? null),
    setProjectStatus: (name, status, reason) => publisher.setStatus(name, status as 'active', reason ?? null),
    injectFaults: (plan) => faults.inject(plan, normalizeName),
    pendingFaults: () => faults.pending(),
  };

  /** The state a JSON API answer for `project` comes from: live, or an older snapshot when a stale answer is due. */
  const jsonState = (project: string): IndexState => {
    const stale = faults.takeStale(project);
    if (!stale) return state;
    const serial = stale.serial ?? journal.beforeNewestUpload(project) ?? (state.project(project)?.lastSerial ?? 0) - 1;
    return journal.stateAt(project, serial);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const method = req.method ?? 'GET';
    const testOnly = target.startsWith('/-/');
    const send = (status: number, headers: Record<string, string | number>, body?: string, fault?: 'truncate' | 'malformed'): void => {
      if (!testOnly) log({ method, path: target, status });
      let buf = body === undefined ? undefined : Buffer.from(body, 'utf8');
      if (buf && fault === 'malformed') buf = buf.subarray(0, buf.length >> 1);
      res.writeHead(status, { ...headers, ...(buf ? { 'Content-Length': buf.length } : {}) });
      if (method === 'HEAD' || !buf) return void res.end();
      if (fault === 'truncate') return void res.write(buf.subarray(0, buf.length >> 1), () => res.destroy());
      res.end(buf);
    };
    const text = (status: number, msg: string): void => send(status, { 'Content-Type': 'text/plain; charset=utf-8' }, `${msg}\n`);
    const json = (status: number, doc: unknown, extra: Record<string, string | number> = {}): void => send(status, { 'Content-Type': 'application/json', ...extra }, JSON.stringify(doc));
    const redirect = (location: string): void => send(301, { Location: location, 'Content-Type': 'text/plain; charset=utf-8' }, `Moved to ${location}\n`);
    const xml = (body: string, fault?: 'truncate' | 'malformed', status = 200): void => send(status, { 'Content-Type': 'text/xml; charset=UTF-8' }, body, fault);

    let url: URL;
    let path: string;
    try {
      url = new URL(target, 'http://index.invalid');
      path = decodeURIComponent(url.pathname);
    } catch {
      return text(400, 'Bad Request');
    }
    const hostHeader = req.headers.host;
    const base = hostHeader && /^[A-Za-z0-9.\-:[\]]+$/.test(hostHeader) ? `http://${hostHeader}` : selfUrl;
    const fileUrl = (f: IndexedFile): string => base + f.urlPath;

    if (method === 'POST' && (path === '/pypi' || path === '/pypi/' || path === '/RPC2')) {
      const body = await readBody(req);
      if (body === null) return text(413, 'Payload Too Large');
      if (faults.take('rateLimit')) return xml(rateLimitAnswer(faults.rateLimitResetSeconds), undefined, faults.rateLimitHttpStatus);
      const answer = answerXmlRpc(body, { journal, state, pageSize, poison: faults.poisonEntries });
      return xml(answer, faults.take('malformed') ? 'malformed' : faults.take('truncate') ? 'truncate' : undefined);
    }
    if (method === 'POST' && isObservationsPath(path)) {
      const body = await readBody(req);
      if (body === null) return text(413, 'Payload Too Large');
      const [status, doc] = answerObservation(path, req.headers.authorization, body, {
        token: opts.observationsToken, hasProject: (n) => state.project(n) !== undefined, now: clock(), record: (o) => observations.push(o),
      });
      return json(status, doc);
    }
    if (method === 'POST' && isAdminPost(path)) {
      const body = await readBody(req);
      if (body === null) return text(413, 'Payload Too Large');
      const [status, doc] = await runAdmin(ops, path, body);
      return json(status, doc);
    }
    if (method !== 'GET' && method !== 'HEAD') return send(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'Method Not Allowed\n');

    if (path === '/-/requests') return json(200, requests);
    if (path === '/-/faults') return json(200, faults.pending());

    if (path === '/rss/updates.xml' || path === '/rss/packages.xml') {
      const body = path === '/rss/updates.xml'
        ? renderUpdates(base, state.newestReleases(rssItems.updates), (r) => state.project(r.project)!.name)
        : renderPackages(base, state.newestProjects(rssItems.packages));
      return xml(body, faults.take('rssMalformed') ? 'malformed' : faults.take('rssTruncate') ? 'truncate' : undefined);
    }

    if (path === '/simple') return redirect(`/simple/${url.search}`);
    if (path.startsWith('/simple/')) {
      const format: SimpleFormat | null = url.searchParams.has('format')
        ? negotiateSimple((url.searchParams.get('format') ?? '').replace(/ /g, '+')) // an unescaped + reads as a space
        : negotiateSimple(req.headers.accept);
      const headers = (f: SimpleFormat, serial: number | null): Record<string, string | number> => ({
        'Content-Type': SIMPLE_CONTENT_TYPES[f], Vary: 'Accept', ...(serial === null ? {} : { 'X-PyPI-Last-Serial': serial }),
      });
      const notAcceptable = (): void => send(406, { 'Content-Type': 'text/plain; charset=utf-8', Vary: 'Accept' }, 'Not Acceptable: this index serves text/html, application/vnd.pypi.simple.v1+html and application/vnd.pypi.simple.v1+json\n');
      const rest = path.slice('/simple/'.length);
      // ETags as a CDN in front of warehouse gives them: one per serial and format; a match answers 304.
      const notModified = (etag: string): boolean => {
        const inm = req.headers['if-none-match'];
        if (!inm || !inm.split(',').map((t) => t.trim()).includes(etag)) return false;
        send(304, { ETag: etag, Vary: 'Accept' });
        return true;
      };
      if (rest === '') {
        if (!format) return notAcceptable();
        const etag = `"root-${journal.lastSerial() ?? 0}-${format}"`;
        if (notModified(etag)) return;
        return send(200, { ...headers(format, journal.lastSerial()), ETag: etag }, renderProjectList(format, state.projects(), journal.lastSerial()));
      }
      const m = /^([^/]+)(\/?)$/.exec(rest);
      const p = m ? state.project(normalizeName(m[1]!)) : undefined;
      if (!m || !p) return text(404, 'Not Found');
      if (m[1] !== p.project || m[2] !== '/') return redirect(`/simple/${encodeURIComponent(p.project)}/${url.search}`);
      if (!format) return notAcceptable();
      const etag = `"${p.project}-${p.lastSerial}-${format}"`;
      if (notModified(etag)) return;
      // PEP 792: a quarantined project's files are not offered.
      const quarantined = p.status?.status === 'quarantined';
      const entries = quarantined ? [] : state.files(p.project).map(({ file, release }) => ({
        file, url: fileUrl(file), sha256: published(file).sha256, yanked: release.yanked, yankedReason: release.yankedReason,
      }));
      let body = renderProjectPage(format, p.project, quarantined ? [] : state.versionsWithFiles(p.project), entries, { lastSerial: p.lastSerial, status: p.status });
      const bad = format === 'json' ? faults.badSimplePage(p.project) : undefined;
      if (bad === 'server-error') return text(503, 'Service Unavailable');
      if (bad === 'other-project') body = body.replace(`"name":${JSON.stringify(p.project)}`, '"name":"someone-else-entirely"');
      if (bad === 'bad-status') body = body.replace(`"name":${JSON.stringify(p.project)}`, `"name":${JSON.stringify(p.project)},"project-status":{"status":"exploded"}`);
      return send(200, { ...headers(format, p.lastSerial), ETag: etag }, body, bad === 'not-json' ? 'malformed' : undefined);
    }

    const api = /^\/pypi\/([^/]+)\/(?:([^/]+)\/)?json\/?$/.exec(path);
    if (api) {
      const notFound = (): void => json(404, { message: 'Not Found' });
      const live = state.project(normalizeName(api[1]!));
      if (!live || live.releases.size === 0) return notFound();
      if (api[1] !== live.name) return redirect(`/pypi/${encodeURIComponent(live.name)}/${api[2] ? `${encodeURIComponent(api[2])}/` : ''}json`);
      const view = jsonState(live.project);
      const p = view.project(live.project);
      if (!p || p.releases.size === 0) return notFound();
      const serialHeader = { 'X-PyPI-Last-Serial': p.lastSerial };
      const bad = faults.badRelease(p.project);
      if (bad === 'redirect-away') return send(302, { Location: `http://pyti-elsewhere.invalid${path}`, 'Content-Type': 'text/plain; charset=utf-8' }, 'Moved\n');
      /** Fault injection: a release document broken as `badRelease` asks. */
      const answerDoc = (doc: Record<string, unknown>): void => {
        if (bad === 'not-json') return send(200, { 'Content-Type': 'application/json', ...serialHeader }, JSON.stringify(doc), 'malformed');
        if (bad === 'other-project') (doc['info'] as Record<string, unknown>)['name'] = 'someone-else-entirely';
        if (bad === 'bad-file') for (const u of doc['urls'] as { digests: Record<string, string> }[]) u.digests['sha256'] = 'not-a-sha256';
        return json(200, doc, serialHeader);
      };
      const entries: JsonFileEntry[] = view.files(p.project).map(({ file, release }) => ({ file, release, url: fileUrl(file), digests: published(file) }));
      if (api[2] !== undefined) {
        const release = p.releases.get(api[2]);
        if (!release) return notFound();
        return answerDoc(releaseDocument(base, release, entries.filter((e) => e.release === release), p.lastSerial));
      }
      return answerDoc(projectDocument(base, view.latest(p.project)!, entries, view.releases(p.project), p.lastSerial));
    }

    if (path.startsWith('/packages/')) {
      const served = state.byUrlPath(`/packages/${path.slice('/packages/'.length).split('/').map(encodeURIComponent).join('/')}`);
      if (!served || missing.has(served.file.filename)) return text(404, 'Not Found');
      const f = served.file;
      log({ method, path: target, status: 200 });
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream', 'Content-Length': f.size, ETag: `"${f.digests.sha256}"`,
        'Cache-Control': 'max-age=365000000, immutable, public',
      });
      if (method === 'HEAD') return void res.end();
      createReadStream(f.path).on('error', (err) => res.destroy(err)).pipe(res);
      return;
    }
    return text(404, 'Not Found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        log({ method: req.method ?? 'GET', path: req.url ?? '/', status: 500 });
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`Internal error: ${(err as Error).message}\n`);
      } else {
        res.destroy(err as Error);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  selfUrl = `http://${urlHost}:${port}`;

  return {
    url: selfUrl,
    simpleUrl: `${selfUrl}/simple/`,
    xmlrpcUrl: `${selfUrl}/pypi`,
    requests,
    observations,
    ...ops,
    pendingFaults: () => faults.pending(),
    lastSerial: () => journal.lastSerial(),
    changelog: () => journal.entries().map((e): ChangelogEntry => [e.name, e.version, e.timestamp, e.action, e.serial]),
    close(): Promise<void> {
      return new Promise((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
