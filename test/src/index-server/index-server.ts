/**
 * A PyPI-compatible package index for tests (PyPI itself cannot be reached from test machines). It
 * serves distribution files the way pypi.org does, so production code talks to it exactly as to
 * pypi.org and only the URL differs:
 *
 * - Simple API: `/simple/` and `/simple/<project>/` as PEP 503 HTML or PEP 691 JSON (negotiated on
 *   `Accept`, or `?format=`), with sha256 hashes and requires-python; non-normalized project names
 *   redirect (301) to the PEP 503 normalized URL.
 * - JSON API: `/pypi/<project>/json` and `/pypi/<project>/<version>/json`.
 * - Files: `/packages/<sha256[0:2]>/<sha256[2:4]>/<sha256>/<filename>`.
 *
 * Test-only extras: fault injection (`corrupt`: publish wrong digests for a file; `missing`: list a
 * file whose download then answers 404) and a request log, in-process (`server.requests`) and at
 * `GET /-/requests` (JSON array of `{method, path, status}`; that request itself is not logged).
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Catalog, indexFile, type IndexedFile } from './catalog.js';
import { projectDocument, releaseDocument, type JsonFileEntry } from './json-api.js';
import { normalizeName } from './names.js';
import { negotiateSimple, SIMPLE_CONTENT_TYPES, type SimpleFormat } from './negotiate.js';
import { renderProjectList, renderProjectPage } from './simple-api.js';

/** How to start a test index. */
export interface IndexServerOptions {
  /** Distribution files (sdists `.tar.gz`, wheels `.whl`) to serve; their metadata is read from them. */
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
}

/** One request the index answered. `path` is the request target as received (path and query). */
export interface IndexRequest {
  method: string;
  path: string;
  status: number;
}

/** A running test index. */
export interface IndexServer {
  /** `http://HOST:PORT`, no trailing slash. */
  url: string;
  /** `${url}/simple/`: what pip's `--index-url` takes. */
  simpleUrl: string;
  /** Every request answered so far, in order (a live array). */
  requests: IndexRequest[];
  /** Serves one more distribution file. */
  addFile(path: string): Promise<void>;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

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

/** Starts a test index serving `opts.files`; rejects with a clear error for a file that is not a valid distribution. */
export async function startIndexServer(opts: IndexServerOptions): Promise<IndexServer> {
  if (!opts || !Array.isArray(opts.files)) throw new Error('test index: options.files must be an array of distribution paths');
  const catalog = new Catalog();
  const initial = await Promise.all(opts.files.map((f) => indexFile(f)));
  for (const f of initial) catalog.add(f);
  const corrupt = checkNames('corrupt', opts.corrupt, initial);
  const missing = checkNames('missing', opts.missing, initial);
  const requests: IndexRequest[] = [];
  const log = (r: IndexRequest): void => {
    requests.push(r);
    opts.onRequest?.(r);
  };
  let serial = new Set(initial.map((f) => f.filename)).size;
  const host = opts.host ?? '127.0.0.1';
  let selfUrl = '';

  const published = (f: IndexedFile): IndexedFile['digests'] => corrupt.has(f.filename)
    ? { sha256: wrongDigest(f.digests.sha256), md5: wrongDigest(f.digests.md5), blake2b_256: wrongDigest(f.digests.blake2b_256) }
    : f.digests;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? '/';
    const method = req.method ?? 'GET';
    const send = (status: number, headers: Record<string, string | number>, body?: string): void => {
      if (target !== '/-/requests') log({ method, path: target, status });
      const buf = body === undefined ? undefined : Buffer.from(body, 'utf8');
      res.writeHead(status, { ...headers, ...(buf ? { 'Content-Length': buf.length } : {}), 'X-PyPI-Last-Serial': serial });
      res.end(method === 'HEAD' ? undefined : buf);
    };
    const text = (status: number, msg: string): void => send(status, { 'Content-Type': 'text/plain; charset=utf-8' }, `${msg}\n`);
    const json = (status: number, doc: unknown, extra: Record<string, string> = {}): void => send(status, { 'Content-Type': 'application/json', ...extra }, JSON.stringify(doc));
    const redirect = (location: string): void => send(301, { Location: location, 'Content-Type': 'text/plain; charset=utf-8' }, `Moved to ${location}\n`);

    if (method !== 'GET' && method !== 'HEAD') return send(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'Method Not Allowed\n');
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

    if (path === '/-/requests') return json(200, requests);

    if (path === '/simple') return redirect(`/simple/${url.search}`);
    if (path.startsWith('/simple/')) {
      const format: SimpleFormat | null = url.searchParams.has('format')
        ? negotiateSimple((url.searchParams.get('format') ?? '').replace(/ /g, '+')) // an unescaped + reads as a space
        : negotiateSimple(req.headers.accept);
      const headers = (f: SimpleFormat): Record<string, string> => ({ 'Content-Type': SIMPLE_CONTENT_TYPES[f], Vary: 'Accept' });
      const rest = path.slice('/simple/'.length);
      if (rest === '') {
        if (!format) return send(406, { 'Content-Type': 'text/plain; charset=utf-8', Vary: 'Accept' }, 'Not Acceptable: this index serves text/html, application/vnd.pypi.simple.v1+html and application/vnd.pypi.simple.v1+json\n');
        const list = catalog.projects().map((p) => ({ project: p, name: catalog.files(p).pop()!.name }));
        return send(200, headers(format), renderProjectList(format, list));
      }
      const m = /^([^/]+)(\/?)$/.exec(rest);
      const project = m ? normalizeName(m[1]!) : '';
      if (!m || !catalog.projects().includes(project)) return text(404, 'Not Found');
      if (m[1] !== project || m[2] !== '/') return redirect(`/simple/${encodeURIComponent(project)}/${url.search}`);
      if (!format) return send(406, { 'Content-Type': 'text/plain; charset=utf-8', Vary: 'Accept' }, 'Not Acceptable: this index serves text/html, application/vnd.pypi.simple.v1+html and application/vnd.pypi.simple.v1+json\n');
      const entries = catalog.files(project).map((f) => ({ file: f, url: fileUrl(f), sha256: published(f).sha256 }));
      return send(200, headers(format), renderProjectPage(format, project, catalog.versions(project), entries));
    }

    const api = /^\/pypi\/([^/]+)\/(?:([^/]+)\/)?json\/?$/.exec(path);
    if (api) {
      const notFound = (): void => json(404, { message: 'Not Found' });
      const project = normalizeName(api[1]!);
      const files = catalog.files(project);
      if (!files.length) return notFound();
      const display = files[files.length - 1]!.name;
      if (api[1] !== display) return redirect(`/pypi/${encodeURIComponent(display)}/${api[2] ? `${encodeURIComponent(api[2])}/` : ''}json`);
      const entries: JsonFileEntry[] = files.map((f) => ({ file: f, url: fileUrl(f), digests: published(f) }));
      if (api[2] !== undefined) {
        const ofVersion = entries.filter((e) => e.file.version === api[2]);
        if (!ofVersion.length) return notFound();
        return json(200, releaseDocument(base, ofVersion, serial));
      }
      return json(200, projectDocument(base, catalog.latest(project)!, entries, catalog.versions(project), serial));
    }

    if (path.startsWith('/packages/')) {
      const f = catalog.byUrlPath(`/packages/${path.slice('/packages/'.length).split('/').map(encodeURIComponent).join('/')}`);
      if (!f || missing.has(f.filename)) return text(404, 'Not Found');
      log({ method, path: target, status: 200 });
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream', 'Content-Length': f.size, ETag: `"${f.digests.sha256}"`,
        'Cache-Control': 'max-age=365000000, immutable, public', 'X-PyPI-Last-Serial': serial,
      });
      if (method === 'HEAD') return void res.end();
      createReadStream(f.path).on('error', (err) => res.destroy(err)).pipe(res);
      return;
    }
    return text(404, 'Not Found');
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) {
        log({ method: req.method ?? 'GET', path: req.url ?? '/', status: 500 });
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`Internal error: ${(err as Error).message}\n`);
      } else {
        res.destroy(err as Error);
      }
    }
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
    requests,
    async addFile(path: string): Promise<void> {
      const f = await indexFile(path);
      const had = catalog.has(f.filename);
      catalog.add(f);
      if (!had) serial++;
    },
    close(): Promise<void> {
      return new Promise((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
