/**
 * The test index's observations endpoint, shaped as PyPI's (https://pypi.org/api/openapi.yaml):
 * `POST /danger-api/projects/{name}/observations` with `Authorization: Bearer <token>` and a JSON
 * body `{kind, summary, inspector_url?}`; `kind` one of is_malware, is_spam, is_dependency_confusion,
 * something_else; `inspector_url` required for is_malware and must start with
 * `https://inspector.pypi.io/project/`. Answers 401 without the token the index was started with
 * (403 for a wrong one), 404 for an unknown project, 400 for a bad body, 200 otherwise; it records
 * what it accepted.
 */
import { normalizeName } from './names.js';

/** An observation the index accepted. */
export interface ReceivedObservation {
  /** The project as named in the URL. */
  project: string;
  kind: string;
  summary: string;
  inspector_url?: string;
  /** Milliseconds since the epoch (the index's clock). */
  at: number;
}

const KINDS = new Set(['is_malware', 'is_spam', 'is_dependency_confusion', 'something_else']);
const PATH = /^\/danger-api\/projects\/([^/]+)\/observations\/?$/;

/** Whether `path` is the observations endpoint. */
export function isObservationsPath(path: string): boolean {
  return PATH.test(path);
}

/** Handles one POST to the observations endpoint; returns the status and the JSON answer. */
export function answerObservation(
  path: string, authorization: string | undefined, body: string, opts: { token?: string; hasProject: (normalized: string) => boolean; now: number; record: (o: ReceivedObservation) => void },
): [number, unknown] {
  const m = PATH.exec(path);
  if (!m) return [404, { message: 'Not Found' }];
  if (!authorization || !/^Bearer \S+$/.test(authorization)) return [401, { message: 'Authentication required: Bearer token' }];
  if (!opts.token || authorization !== `Bearer ${opts.token}`) return [403, { message: 'Invalid or unauthorized API token' }];
  const project = m[1]!;
  if (!opts.hasProject(normalizeName(project))) return [404, { message: `No such project: ${project}` }];
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return [400, { message: 'Body is not JSON' }];
  }
  const o = doc as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return [400, { message: 'Body must be a JSON object' }];
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return [400, { message: `kind must be one of ${[...KINDS].join(', ')}` }];
  if (typeof o.summary !== 'string' || !o.summary.trim()) return [400, { message: 'summary is required' }];
  if (o.inspector_url !== undefined && (typeof o.inspector_url !== 'string' || !o.inspector_url.startsWith('https://inspector.pypi.io/project/'))) {
    return [400, { message: 'inspector_url must start with https://inspector.pypi.io/project/' }];
  }
  if (o.kind === 'is_malware' && o.inspector_url === undefined) return [400, { message: 'inspector_url is required for is_malware' }];
  const extra = Object.keys(o).filter((k) => !['kind', 'summary', 'inspector_url'].includes(k));
  if (extra.length) return [400, { message: `unknown fields: ${extra.join(', ')}` }];
  opts.record({ project, kind: o.kind, summary: o.summary, ...(typeof o.inspector_url === 'string' ? { inspector_url: o.inspector_url } : {}), at: opts.now });
  return [200, { project, thanks: 'for the observation' }];
}
