/**
 * The test-only HTTP endpoints that change a running index (for an index run as a separate process).
 * Each takes a JSON object and answers `{"serial": N}` (the serial of its last change-log entry), or
 * 400 `{"error": "…"}` when the change does not fit the index:
 *
 *   POST /-/publish         {"path": "/abs/foo-1.0.tar.gz"}
 *   POST /-/yank            {"name": "foo", "version": "1.0", "reason": "broken"?}
 *   POST /-/unyank          {"name": "foo", "version": "1.0"}
 *   POST /-/remove-file     {"filename": "foo-1.0.tar.gz"}
 *   POST /-/remove-release  {"name": "foo", "version": "1.0"}
 *   POST /-/remove-project  {"name": "foo"}
 *   POST /-/noise           {"name": "foo", "action": "add Owner alice", "version": "1.0"?}
 *   POST /-/project-status  {"name": "foo", "status": "quarantined", "reason": "malware"?} (PEP 792)
 *   POST /-/faults          a FaultPlan (fault-injection.ts); answers the pending faults
 *   GET  /-/faults          the pending faults
 */
import type { FaultPlan } from './fault-injection.js';

/** The operations the endpoints call (the `IndexServer` methods). */
export interface AdminOperations {
  publish(path: string): Promise<number>;
  yank(name: string, version: string, reason?: string): number;
  unyank(name: string, version: string): number;
  removeFile(filename: string): number;
  removeRelease(name: string, version: string): number;
  removeProject(name: string): number;
  addNoise(name: string, action: string, version?: string | null): number;
  setProjectStatus(name: string, status: string, reason?: string): number;
  injectFaults(plan: FaultPlan): void;
  pendingFaults(): unknown;
}

function str(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || !v) throw new Error(`"${key}" must be a non-empty string`);
  return v;
}

function optStr(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`"${key}" must be a string`);
  return v;
}

const ROUTES: Record<string, (ops: AdminOperations, b: Record<string, unknown>) => Promise<number> | number> = {
  '/-/publish': (ops, b) => ops.publish(str(b, 'path')),
  '/-/yank': (ops, b) => ops.yank(str(b, 'name'), str(b, 'version'), optStr(b, 'reason')),
  '/-/unyank': (ops, b) => ops.unyank(str(b, 'name'), str(b, 'version')),
  '/-/remove-file': (ops, b) => ops.removeFile(str(b, 'filename')),
  '/-/remove-release': (ops, b) => ops.removeRelease(str(b, 'name'), str(b, 'version')),
  '/-/remove-project': (ops, b) => ops.removeProject(str(b, 'name')),
  '/-/noise': (ops, b) => ops.addNoise(str(b, 'name'), str(b, 'action'), optStr(b, 'version') ?? null),
  '/-/project-status': (ops, b) => ops.setProjectStatus(str(b, 'name'), str(b, 'status'), optStr(b, 'reason')),
};

/** Whether `path` is one of the endpoints that take a POST. */
export function isAdminPost(path: string): boolean {
  return Object.hasOwn(ROUTES, path) || path === '/-/faults';
}

/** Runs one POST endpoint; returns the status and the JSON answer. */
export async function runAdmin(ops: AdminOperations, path: string, rawBody: string): Promise<[number, unknown]> {
  let body: unknown;
  try {
    body = JSON.parse(rawBody || '{}');
  } catch {
    return [400, { error: 'the body must be a JSON object' }];
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [400, { error: 'the body must be a JSON object' }];
  try {
    if (path === '/-/faults') {
      ops.injectFaults(body as FaultPlan);
      return [200, ops.pendingFaults()];
    }
    return [200, { serial: await ROUTES[path]!(ops, body as Record<string, unknown>) }];
  } catch (err) {
    return [400, { error: (err as Error).message }];
  }
}
