/**
 * The master's trace viewer: a stored audit's phase trace (its `raw/<task>/<phase>.strace` artifact
 * in the blob store, as the rescore command reads it) parsed into a TraceIndex — every process, file
 * and network row attributed to the package or its tooling — and filtered and paged on request.
 *
 * Parsing a trace takes about a second per 50 MB: it is read as a stream in 1 MiB chunks fed to the
 * streaming parser and the index builder (the event loop runs between chunks, and the events are
 * never all held), and the last few indexes are kept in memory, keyed by the blob's sha256
 * (content-addressed: an index never goes stale) and the guest paths. Concurrent requests for one
 * index share its build.
 *
 * Security: the trace came from a sandbox: parsed by the defensive streaming parser, never above
 * `MAX_TRACE_BYTES`; rows are data (the pages escape them).
 */
import { createReadStream, statSync } from 'node:fs';
import {
  DEFAULT_GUEST_PATHS, PHASE_TRACES, PHASES, queryTrace, StraceParser, TraceIndexBuilder,
  type OwnerPaths, type Phase, type TraceIndex, type TracePage, type TraceQuery,
} from '@pyti/common';
import { PytiError } from '@pyti/vm-agent';
import type { BlobStore } from '../blobs/blob-store.js';
import type { PrunedArtifacts } from '../retention/pruned-artifacts.js';
import type { JobQueue } from '../queue/job-queue.js';

/** Largest trace the viewer parses (a bigger one is refused with PYTI_INPUT_TOO_LARGE). */
export const MAX_TRACE_BYTES = 256 * 1024 * 1024;
/** Indexes kept in memory. */
const CACHE_SIZE = 4;

/** A phase trace of an audit, as the viewer answers it. */
export interface TraceAnswer extends TracePage {
  audit: string;
  phase: Phase;
  /** The raw artifact the rows' line numbers refer to (`raw/build/build.strace`). */
  file: string;
  /** Phases of this audit that have a trace. */
  phases: Phase[];
  /** Stat-like probes (counted, not listed). */
  probes: number;
}

/** The raw artifact name of a phase's trace. */
export function phaseTraceFile(phase: Phase): string {
  const [task, file] = PHASE_TRACES[phase];
  return `raw/${task}/${file}`;
}

const PATH_RE = /^\/[A-Za-z0-9._/-]{0,200}$/;

/** The guest paths of a stored report (validated: they go into regular expressions, escaped, and must look like paths). */
export function guestPathsOf(reportJson: string | null): OwnerPaths {
  try {
    const p = (JSON.parse(reportJson ?? 'null') as { guest?: { paths?: Record<string, unknown> } } | null)?.guest?.paths;
    const pick = (k: 'work' | 'tmp' | 'home'): string | undefined => (typeof p?.[k] === 'string' && PATH_RE.test(p[k] as string) ? (p[k] as string) : undefined);
    return { work: pick('work') ?? DEFAULT_GUEST_PATHS.work, tmp: pick('tmp') ?? DEFAULT_GUEST_PATHS.tmp, home: pick('home') ?? DEFAULT_GUEST_PATHS.home };
  } catch {
    return { ...DEFAULT_GUEST_PATHS };
  }
}

export class TraceViewer {
  private readonly cache = new Map<string, Promise<TraceIndex>>();

  /** `pruned`: raw data gc deleted is PYTI_RAW_PRUNED (410), not a missing artifact. */
  constructor(private readonly queue: JobQueue, private readonly blobs: BlobStore, private readonly pruned?: PrunedArtifacts) {}

  /** Phases of audit `id` whose trace the master has. Throws JobNotFoundError. */
  phases(id: string): Phase[] {
    return PHASES.filter((p) => this.queue.artifact(id, phaseTraceFile(p)) !== null);
  }

  /**
   * One page of one phase's rows (`phase` absent: the first phase with a trace). Throws
   * PYTI_JOB_NOT_FOUND (no such audit, or no trace of that phase) and PYTI_INPUT_TOO_LARGE.
   */
  async query(id: string, phase: Phase | undefined, q: TraceQuery): Promise<TraceAnswer> {
    const phases = this.phases(id);
    const ph = phase ?? phases[0];
    if (!ph || !phases.includes(ph)) {
      throw new PytiError('PYTI_JOB_NOT_FOUND', phase ? `audit ${id} has no ${phase} trace` : `audit ${id} has no trace`);
    }
    const file = phaseTraceFile(ph);
    const index = await this.index(id, file);
    return { audit: id, phase: ph, file, phases, probes: index.probes, ...queryTrace(index, q) };
  }

  /** The whole index of one phase (for the process tree). */
  indexOf(id: string, phase: Phase): Promise<TraceIndex> {
    return this.index(id, phaseTraceFile(phase));
  }

  private index(id: string, file: string): Promise<TraceIndex> {
    const a = this.queue.artifact(id, file);
    if (a) this.pruned?.require(id, file, a.sha256);
    if (!a || !this.blobs.has(a.sha256)) throw new PytiError('PYTI_JOB_NOT_FOUND', `audit ${id} has no artifact ${file}`);
    const paths = guestPathsOf(this.queue.reportJson(id));
    const key = `${a.sha256}|${paths.work}|${paths.tmp}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const path = this.blobs.pathOf(a.sha256);
    const size = statSync(path).size;
    if (size > MAX_TRACE_BYTES) throw new PytiError('PYTI_INPUT_TOO_LARGE', `${file} is ${size} bytes; the viewer reads at most ${MAX_TRACE_BYTES}`);
    const built = buildFromFile(path, paths);
    built.catch(() => this.cache.delete(key));
    this.cache.set(key, built);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return built;
  }
}

/** Streams a trace file through the parser into an index builder. */
async function buildFromFile(path: string, paths: OwnerPaths): Promise<TraceIndex> {
  const builder = new TraceIndexBuilder(paths);
  const parser = new StraceParser((e) => builder.add(e));
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) parser.push(chunk);
  parser.end();
  return builder.finish();
}
