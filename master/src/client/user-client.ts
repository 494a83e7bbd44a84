/**
 * A client of the master's user API (see ../user-api.ts), used by `pyti submit|status|report` and by
 * tests. Node's fetch; uploads stream from the file; errors are PytiErrors (see api-request.ts).
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { PytiError } from '@pyti/vm-agent';
import type {
  AuditDetail, AuditState, AuditSummary, FeedStatus, SubmitAnswer, SubmitByNameRequest, SubscriptionAudit, SubscriptionCreateRequest, SubscriptionSummary,
  SubscriptionUpdateRequest,
} from '../user-api.js';
import type { SubmissionView } from '../submissions/submission-store.js';
import { DEFAULT_RETRY, apiFetch, type ApiRequest, type RetryPolicy } from './api-request.js';
import type { AuditDiff } from '../diff/audit-diff-types.js';
import type { QueueCounts } from '../search/audit-search.js';
import type { ProjectHistoryBody } from '../http/history-routes.js';

/** The master's default address (`pyti master` listens there unless told otherwise). */
export const DEFAULT_MASTER_URL = 'http://127.0.0.1:8470';

export interface UserClientOptions {
  /** The master's base URL, e.g. `http://127.0.0.1:8470`. */
  url: string;
  /** The user token (`Authorization: Bearer`); reads may work without one on a `--public-read` master. */
  token?: string;
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
}

export interface UploadOptions {
  /** The name the master stores (default: the file's base name). */
  filename?: string;
  priority?: number;
  backend?: string;
  /** Audit again even when these bytes were already audited on this backend. */
  force?: boolean;
}

export interface ListOptions {
  state?: AuditState;
  limit?: number;
  /** Audits older than this id (paging). */
  after?: string;
  /** Only audits of git commits whose id starts with this (7-40 hex digits). */
  commit?: string;
}

export interface WaitOptions {
  /** Called after every poll with the audit as it is. */
  onProgress?: (d: AuditDetail) => void;
  /** Between polls (default 1000 ms). */
  pollMs?: number;
  /** Give up waiting after this long (default: never) and resolve with the audit as it is then. */
  timeoutMs?: number;
  /** How long the master may stay unreachable (a restart) before waiting fails (default 60 s). */
  unreachableMs?: number;
  signal?: AbortSignal;
}

/** True once an audit will not change any more. */
export function isFinished(state: AuditState): boolean {
  return state === 'done' || state === 'error' || state === 'cancelled';
}

/** An artifact name safe to put in a URL and on disk: relative, `/`-separated, no `.`/`..`/empty segments. */
export function checkArtifactName(name: string): string {
  const segs = name.split('/');
  if (!name || name.length > 1024 || name.startsWith('/') || /[\\\0]/.test(name) || segs.some((s) => s === '' || s === '.' || s === '..')) {
    throw new PytiError('PYTI_INPUT_UNSAFE_PATH', `artifact name ${JSON.stringify(name.slice(0, 200))} is not a safe relative path`);
  }
  return name;
}

export class UserClient {
  readonly url: string;
  private readonly token?: string;
  private readonly fetchFn: typeof fetch;
  private readonly retry: RetryPolicy;

  constructor(opts: UserClientOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch (err) {
      throw new PytiError('PYTI_CONFIG_INVALID', `master URL ${JSON.stringify(opts.url)} is not a URL`, { cause: err });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PytiError('PYTI_CONFIG_INVALID', `master URL ${JSON.stringify(opts.url)} is not http(s)`);
    if (u.search || u.hash || u.username || u.password) throw new PytiError('PYTI_CONFIG_INVALID', `master URL ${JSON.stringify(opts.url)} must not carry a query, fragment or credentials (use the token)`);
    this.url = u.href.replace(/\/+$/, '');
    if (opts.token !== undefined && !/^[\x21-\x7e]+$/.test(opts.token)) throw new PytiError('PYTI_CONFIG_INVALID', 'the token is empty or has characters a token cannot have');
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? fetch;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /** The URL of an audit's page. */
  pageUrl(id: string): string {
    return `${this.url}/audits/${encodeURIComponent(id)}`;
  }

  private auditPath(id: string): string {
    if (!id) throw new PytiError('PYTI_USAGE', 'an audit id is empty');
    return `/api/v1/audits/${encodeURIComponent(id)}`;
  }

  private async call(method: ApiRequest['method'], path: string, extra: Partial<ApiRequest> = {}, retry = this.retry): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...extra.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      return await apiFetch(this.fetchFn, { method, url: `${this.url}${path}`, idempotent: method === 'GET', what: `${method} ${path.split('?')[0]}`, ...extra, headers }, retry);
    } catch (err) {
      if (err instanceof PytiError && err.code === 'PYTI_AUTH' && !this.token) throw new PytiError('PYTI_AUTH', `${err.message} (no token was sent: pass --token or set PYTI_TOKEN)`);
      throw err;
    }
  }

  private async json<T>(method: ApiRequest['method'], path: string, extra: Partial<ApiRequest> = {}): Promise<T> {
    const res = await this.call(method, path, extra);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new PytiError('PYTI_MASTER_UNREACHABLE', `${method} ${path}: the master answered with something that is not JSON`, { cause: err });
    }
  }

  /** Submits `project==version` from the master's package index. */
  async submitByName(req: SubmitByNameRequest): Promise<SubmitAnswer> {
    const body = JSON.stringify(req);
    return this.json('POST', '/api/v1/audits', { headers: { 'content-type': 'application/json' }, body: () => body });
  }

  /** Uploads a local sdist or wheel, streaming it from the file. */
  async submitUpload(path: string, opts: UploadOptions = {}): Promise<SubmitAnswer> {
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } catch (err) {
      throw new PytiError('PYTI_INPUT_NOT_FOUND', `${path}: ${(err as Error).message}`, { cause: err });
    }
    const filename = opts.filename ?? basename(path);
    if (!/\.(tar\.gz|whl)$/.test(filename)) throw new PytiError('PYTI_INPUT_NOT_ARCHIVE', `${filename}: not a wheel or a .tar.gz sdist`);
    const q = new URLSearchParams({ filename });
    if (opts.priority !== undefined) q.set('priority', String(opts.priority));
    if (opts.backend !== undefined) q.set('backend', opts.backend);
    if (opts.force) q.set('force', '1');
    return this.json('POST', `/api/v1/audits/upload?${q}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: () => Readable.toWeb(createReadStream(path)) as unknown as BodyInit,
    });
  }

  /** Uploads a zip of several projects (directories with pyproject.toml or setup.py, or distributions): one audit each, in one submission. */
  async submitZip(path: string, opts: { priority?: number; backend?: string } = {}): Promise<SubmissionView> {
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } catch (err) {
      throw new PytiError('PYTI_INPUT_NOT_FOUND', `${path}: ${(err as Error).message}`, { cause: err });
    }
    const q = new URLSearchParams({ filename: basename(path) });
    if (opts.priority !== undefined) q.set('priority', String(opts.priority));
    if (opts.backend !== undefined) q.set('backend', opts.backend);
    return this.json('POST', `/api/v1/submissions/zip?${q}`, {
      headers: { 'content-type': 'application/zip', 'content-length': String(size) },
      body: () => Readable.toWeb(createReadStream(path)) as unknown as BodyInit,
    });
  }

  /** Audits a git repository at a ref once. */
  async submitGit(req: { repo: string; ref: string; priority?: number; backend?: string }): Promise<SubmissionView> {
    const body = JSON.stringify(req);
    return this.json('POST', '/api/v1/submissions/git', { headers: { 'content-type': 'application/json' }, body: () => body });
  }

  /** One submission with its audits. */
  async submission(id: string): Promise<SubmissionView> {
    if (!id) throw new PytiError('PYTI_USAGE', 'a submission id is empty');
    return this.json('GET', `/api/v1/submissions/${encodeURIComponent(id)}`);
  }

  /** The page of a submission. */
  submissionUrl(id: string): string {
    return `${this.url}/submissions/${encodeURIComponent(id)}`;
  }

  /** Audits, newest first. */
  async list(opts: ListOptions = {}): Promise<AuditSummary[]> {
    const q = new URLSearchParams();
    if (opts.state) q.set('state', opts.state);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.after) q.set('after', opts.after);
    if (opts.commit) q.set('commit', opts.commit);
    const r = await this.json<{ audits?: AuditSummary[] }>('GET', `/api/v1/audits${q.size ? `?${q}` : ''}`);
    if (!Array.isArray(r.audits)) throw new PytiError('PYTI_MASTER_UNREACHABLE', 'GET /api/v1/audits: the answer has no audits list');
    return r.audits;
  }

  /**
   * One page of audits matching filters (the query-string fields of search/audit-filter.ts, e.g.
   * `{verdict: 'flagged', project: 'requests', limit: '20'}`), with the matching total and the whole
   * queue's counts when the master sends them.
   */
  async listPage(filter: Record<string, string>): Promise<{ audits: AuditSummary[]; total?: number; counts?: QueueCounts }> {
    const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== ''));
    const r = await this.json<{ audits?: AuditSummary[]; total?: number; counts?: QueueCounts }>('GET', `/api/v1/audits${q.size ? `?${q}` : ''}`);
    if (!Array.isArray(r.audits)) throw new PytiError('PYTI_MASTER_UNREACHABLE', 'GET /api/v1/audits: the answer has no audits list');
    return { ...r, audits: r.audits };
  }

  /** What changed between two audits (ids), or between two versions of `project`. */
  async diff(from: string, to: string, project?: string): Promise<AuditDiff> {
    const q = new URLSearchParams({ from, to, ...(project ? { project } : {}) });
    return this.json('GET', `/api/v1/diff?${q}`);
  }

  /** A project's releases and audits. */
  async project(name: string): Promise<ProjectHistoryBody> {
    return this.json('GET', `/api/v1/projects/${encodeURIComponent(name)}`);
  }

  /** One audit, with its artifacts, prefetch summary and recent events. */
  async get(id: string): Promise<AuditDetail> {
    return this.json('GET', this.auditPath(id));
  }

  /** The audit's report (the slave's AuditReport JSON); fails until the audit is done. */
  async reportJson(id: string): Promise<unknown> {
    return this.json('GET', `${this.auditPath(id)}/report.json`);
  }

  /** The audit's HTML report. */
  async reportHtml(id: string): Promise<string> {
    return (await this.call('GET', `${this.auditPath(id)}/report.html`, { headers: { accept: 'text/html' } })).text();
  }

  private artifactPath(id: string, name: string): string {
    return `${this.auditPath(id)}/artifacts/${checkArtifactName(name).split('/').map(encodeURIComponent).join('/')}`;
  }

  /** One raw artifact's bytes. */
  async artifact(id: string, name: string): Promise<Buffer> {
    const res = await this.call('GET', this.artifactPath(id, name), { headers: { accept: '*/*' } });
    return Buffer.from(await res.arrayBuffer());
  }

  /** Streams one raw artifact into `dest` (created or truncated); resolves to its size and sha256. */
  async saveArtifact(id: string, name: string, dest: string | NodeJS.WritableStream): Promise<{ sizeBytes: number; sha256: string }> {
    const res = await this.call('GET', this.artifactPath(id, name), { headers: { accept: '*/*' } }, { ...this.retry, timeoutMs: 0 });
    if (!res.body) throw new PytiError('PYTI_MASTER_UNREACHABLE', `artifact ${name}: empty answer`);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const tap = new Transform({ transform(chunk: Buffer, _enc, cb) { hash.update(chunk); sizeBytes += chunk.length; cb(null, chunk); } });
    const out = typeof dest === 'string' ? createWriteStream(dest) : dest;
    await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), tap, out);
    return { sizeBytes, sha256: hash.digest('hex') };
  }

  /** Cancels a queued or running audit. */
  async cancel(id: string): Promise<AuditSummary> {
    return this.json('POST', `${this.auditPath(id)}/cancel`, { idempotent: true });
  }

  private subscriptionPath(name: string): string {
    if (!name) throw new PytiError('PYTI_USAGE', 'a subscription name is empty');
    return `/api/v1/subscriptions/${encodeURIComponent(name)}`;
  }

  /** Every subscription. */
  async subscriptions(): Promise<SubscriptionSummary[]> {
    return (await this.json<{ subscriptions: SubscriptionSummary[] }>('GET', '/api/v1/subscriptions')).subscriptions;
  }

  /** Creates a subscription. */
  async subscribe(req: SubscriptionCreateRequest): Promise<SubscriptionSummary> {
    const body = JSON.stringify(req);
    return this.json('POST', '/api/v1/subscriptions', { headers: { 'content-type': 'application/json' }, body: () => body });
  }

  /** One subscription with its counts. */
  async subscription(name: string): Promise<SubscriptionSummary> {
    return this.json('GET', this.subscriptionPath(name));
  }

  /** Changes a subscription (pause, resume, priority, backend, backlog). */
  async updateSubscription(name: string, change: SubscriptionUpdateRequest): Promise<SubscriptionSummary> {
    const body = JSON.stringify(change);
    return this.json('PATCH', this.subscriptionPath(name), { headers: { 'content-type': 'application/json' }, body: () => body, idempotent: true });
  }

  /** Removes a subscription (its queued audits are cancelled). */
  async unsubscribe(name: string): Promise<{ removed: SubscriptionSummary; cancelled: number }> {
    return this.json('DELETE', this.subscriptionPath(name));
  }

  /** The audits a subscription submitted, newest first. */
  async subscriptionAudits(name: string, limit = 50): Promise<SubscriptionAudit[]> {
    return (await this.json<{ audits: SubscriptionAudit[] }>('GET', `${this.subscriptionPath(name)}/audits?limit=${limit}`)).audits;
  }

  /** The master's change-log cursor, lag and last error. */
  async feed(): Promise<FeedStatus> {
    return this.json('GET', '/api/v1/feed');
  }

  /**
   * Polls the audit until it is done, errored or cancelled (or `timeoutMs` passes, or `signal` aborts)
   * and resolves with it as it then is. Rides out a master restart of up to `unreachableMs`.
   */
  async waitFor(id: string, opts: WaitOptions = {}): Promise<AuditDetail> {
    const pollMs = opts.pollMs ?? 1000;
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    const unreachableMs = opts.unreachableMs ?? 60_000;
    let lastOk = Date.now();
    let last: AuditDetail | undefined;
    for (;;) {
      try {
        last = await this.get(id);
        lastOk = Date.now();
        opts.onProgress?.(last);
        if (isFinished(last.state)) return last;
      } catch (err) {
        if (!(err instanceof PytiError) || err.code !== 'PYTI_MASTER_UNREACHABLE' || Date.now() - lastOk > unreachableMs) throw err;
      }
      if (Date.now() + pollMs > deadline || opts.signal?.aborted) {
        if (last) return last;
        throw new PytiError('PYTI_MASTER_UNREACHABLE', `audit ${id}: no answer while waiting`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, pollMs);
        opts.signal?.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
      });
    }
  }
}
