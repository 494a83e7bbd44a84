/** Checks of what users send to the user API; a violation is a 400 `PYTI_USAGE` naming the field. */
import { PytiError } from '@pyti/vm-agent';
import { checkPep440Version } from '@pyti/common';
import type { SubmitByNameRequest } from '../user-api.js';

/** A bad request field. */
export class BadRequestError extends PytiError {
  constructor(field: string, why: string) {
    super('PYTI_USAGE', `${field}: ${why}`);
  }
}

const PROJECT = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.!+_-]{0,127}$/;
/** A distribution's file name (the only kinds PyTI audits). */
export const DIST_FILENAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,250}\.(whl|tar\.gz|zip)$/;
const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;

/** Priority from a number or query string: an integer in -100..100, default 0. */
export function checkPriority(v: unknown): number {
  if (v === undefined || v === '') return 0;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -100 || n > 100) throw new BadRequestError('priority', 'must be an integer in -100..100');
  return n;
}

/** Backend name, or undefined for the master's default. */
export function checkBackend(v: unknown): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !BACKEND.test(v)) throw new BadRequestError('backend', 'must be a backend name such as bwrap, qemu or libvirt');
  return v;
}

/** The body of `POST /api/v1/audits`. */
export function checkSubmitByName(body: unknown): Required<Pick<SubmitByNameRequest, 'project' | 'version' | 'priority' | 'force'>> & Pick<SubmitByNameRequest, 'filename' | 'backend'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('body', 'must be a JSON object {project, version, filename?, priority?, backend?, force?}');
  const b = body as Record<string, unknown>;
  if (typeof b.project !== 'string' || !PROJECT.test(b.project)) throw new BadRequestError('project', 'must be a project name (letters, digits, . _ -)');
  if (typeof b.version !== 'string' || !VERSION.test(b.version)) throw new BadRequestError('version', 'must be a version string');
  checkPep440Version(b.version, `${b.project}`);
  if (b.filename !== undefined && (typeof b.filename !== 'string' || !DIST_FILENAME.test(b.filename))) throw new BadRequestError('filename', 'must be a .whl or .tar.gz file name');
  if (b.force !== undefined && typeof b.force !== 'boolean') throw new BadRequestError('force', 'must be true or false');
  return { project: b.project, version: b.version, filename: b.filename as string | undefined, priority: checkPriority(b.priority), backend: checkBackend(b.backend), force: b.force === true };
}

/** The upload route's `force` query parameter: absent, `1`/`true` or `0`/`false`. */
export function checkForceQuery(v: string | undefined): boolean {
  if (v === undefined || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw new BadRequestError('force', 'must be 1, true, 0 or false');
}

/** A commit id or a prefix of one: 7 to 40 hex digits (either case). */
export const COMMIT_PREFIX = /^[0-9A-Fa-f]{7,40}$/;
