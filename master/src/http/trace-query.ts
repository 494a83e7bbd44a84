/**
 * Checks of the trace viewer's query strings (`GET /api/v1/audits/:id/trace`, `/audits/:id/trace`,
 * `/audits/:id/raw/…?line=`): a bad value is a 400 `PYTI_USAGE` naming the field.
 */
import { PHASES, TRACE_OP_FILTERS, type Phase, type TraceKind, type TraceOwner, type TraceQuery } from '@pyti/common';
import { BadRequestError } from './request-checks.js';
import { MAX_EXCERPT_CONTEXT } from '../trace/raw-excerpt.js';

/** Most rows in one page. */
export const MAX_TRACE_LIMIT = 1000;
const KINDS: readonly TraceKind[] = ['files', 'processes', 'network'];
const OWNERS: readonly string[] = ['package', 'tooling', 'all'];

const int = (field: string, v: string | undefined, dflt: number, min: number, max: number): number => {
  if (v === undefined || v === '') return dflt;
  const n = /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new BadRequestError(field, `must be an integer in ${min}..${max}`);
  return n;
};

/** The viewer's query: phase (absent: the first traced), kind (files), owner (package; `all` for both), op, q, offset, limit (100). */
export function checkTraceQuery(q: Record<string, string | undefined>): { phase?: Phase; query: TraceQuery } {
  let phase: Phase | undefined;
  if (q.phase !== undefined && q.phase !== '') {
    if (!(PHASES as readonly string[]).includes(q.phase)) throw new BadRequestError('phase', `must be one of ${PHASES.join(', ')}`);
    phase = q.phase as Phase;
  }
  const kind = (q.kind === undefined || q.kind === '' ? 'files' : q.kind) as TraceKind;
  if (!KINDS.includes(kind)) throw new BadRequestError('kind', `must be one of ${KINDS.join(', ')}`);
  const owner = q.owner === undefined || q.owner === '' ? 'package' : q.owner;
  if (!OWNERS.includes(owner)) throw new BadRequestError('owner', 'must be package, tooling or all');
  const op = q.op ?? '';
  if (op && !TRACE_OP_FILTERS[kind].includes(op)) {
    throw new BadRequestError('op', TRACE_OP_FILTERS[kind].length ? `must be one of ${TRACE_OP_FILTERS[kind].join(', ')} for ${kind}` : `is not a filter of ${kind}`);
  }
  const text = q.q ?? '';
  if (text.length > 500) throw new BadRequestError('q', 'must be at most 500 characters');
  return {
    phase,
    query: {
      kind, ...(owner === 'all' ? {} : { owner: owner as TraceOwner }), ...(text ? { q: text } : {}), ...(op ? { op } : {}),
      offset: int('offset', q.offset, 0, 0, 10_000_000), limit: int('limit', q.limit, 100, 1, MAX_TRACE_LIMIT),
    },
  };
}

/** `?line=N&context=C` of a raw excerpt (line 1, context 20 by default). */
export function checkExcerptQuery(q: Record<string, string | undefined>): { line: number; context: number } {
  return { line: int('line', q.line, 1, 1, 1_000_000_000), context: int('context', q.context, 20, 0, MAX_EXCERPT_CONTEXT) };
}

/** A raw artifact's name under `raw/` (the route's wildcard): no `..`, no empty parts, printable. */
export function checkRawName(rest: string): string {
  const name = `raw/${rest}`;
  if (rest.length > 300 || !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(rest) || rest.split('/').some((p) => p === '..' || p === '.')) {
    throw new BadRequestError('file', 'must be a raw artifact name such as build/build.strace');
  }
  return name;
}
