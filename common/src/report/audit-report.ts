/**
 * The audit report: one versioned JSON document. HTML and terminal renderings are made from it.
 *
 * Result taxonomy (crater-style): `pass`, `no-tests` (nothing failed, and the distribution has no tests),
 * `test-fail[:deps|:timeout|:oom]` (`:deps`: not run for want of the named test requirements; flaky
 * tests, failed in the run and passed alone, are not failures), `import-fail`,
 * `install-fail[:deps|:timeout|:oom]`, `build-fail[:deps|:toolchain|:timeout|:oom]`, `inspect-fail`, and infrastructure
 * errors `error:sandbox-protocol`, `error:boot-timeout`, `error:job-timeout`, `error:sandbox`, kept apart
 * from package failures. The verdict and score come from the findings, whatever the result
 * (`judge` in findings/judge.ts): `malicious` (score ≥ 100), `suspicious` (a finding of medium or
 * above), and with nothing above low `failed` (inspect, build or install failed: not fully
 * observed), `error` (PyTI could not audit) or `clean`. Reports of older slaves may say `flagged`.
 */
import type { AgentHello, TaskResult } from '@pyti/vm-agent';
import type { Finding, Phase, Severity } from '../findings/finding.js';
import type { CoverageSummary } from '../results/coverage.js';
import type { LintSummary } from '../results/pylint.js';
import type { StyleSummary } from '../results/pycodestyle.js';
import type { TestSummary } from '../results/junit.js';
import type { PerfResult } from '../results/perf-result.js';
import type { TraceSummary } from '../trace/process-tree.js';
import type { InfraError } from './infra-error.js';
import type { ScoreReason } from '../findings/judge.js';
import type { IndexObservation } from './observation.js';
import type { SinkholeRecord } from '../sinkhole/sinkhole-record.js';
import type { ReachSummary } from './reach.js';

export const REPORT_SCHEMA_VERSION = 1;

/** The verdict of an audit (see `judge`). */
export type Verdict = 'malicious' | 'suspicious' | 'clean' | 'failed' | 'error';

/**
 * Where a task ran: `guest` in the audit's own sandbox (its backend: a VM guest, or bwrap for a bwrap
 * audit), `host-bwrap` in the host's bubblewrap sandbox beside a VM (the static tasks of VM audits).
 */
export type TaskWhere = 'host-bwrap' | 'guest';

export interface ReportTask extends TaskResult {
  title: string;
  failurePolicy: string;
  /** Where it ran; absent in reports of slaves before VM audits ran static tasks on the host. */
  where?: TaskWhere;
}

export interface ImportResult {
  module: string;
  ok: boolean;
  /** Named like the distribution (or every module, when none is): only a primary module's failure fails the import. */
  primary?: boolean;
  /** The module raised ImportError by design (a shim, an optional extension or dependency): not the package's failure. */
  optional?: boolean;
  error?: string;
  traceback?: string;
}

/**
 * Where the audited distribution came from when it was not given as a file: a git commit (a git
 * subscription), built into an sdist by the slave, offline in its sandbox.
 */
export interface ReportSource {
  kind: 'git';
  repo: string;
  branch: string;
  /** The commit id (40 hex digits). */
  commit: string;
  /** sha256 of the commit's archive (`git archive --format=tar.gz`, made by the master). */
  archiveSha256: string;
  /** The sdist built from it (absent when the build failed). */
  sdist?: string;
  /** How long building the sdist took (prefetching its build requirements included). */
  buildMs: number;
}

/**
 * Where `pyti audit` got the distribution: resolved by name on an index (`index`), downloaded from a
 * URL (`url`), or a local file (`file`).
 */
export interface DistributionOrigin {
  kind: 'index' | 'url' | 'file';
  /** The URL the file was downloaded from. */
  url?: string;
  /** The index's base URL, when the index named the file or published the hash it was checked against. */
  index?: string;
  /** True when the file's sha256 matched one the index (or the URL's `#sha256=` fragment) publishes. */
  sha256Verified: boolean;
}

/** An attempt that ended in a retried infrastructure failure: what failed, and the sandbox's console then (capped). */
export interface RetriedAttempt {
  infraError: InfraError;
  console: string;
  totalMs: number;
}

export interface AuditReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  tool: { name: 'pyti'; version: string };
  /** Set when the distribution was built from a git commit (see ReportSource). */
  source?: ReportSource;
  distribution: {
    filename: string; name: string; version: string; kind: 'sdist' | 'wheel'; sha256: string; sizeBytes: number;
    summary?: string; requiresPython?: string; requiresDist: string[];
    /** The rest of the core metadata (see input/core-metadata.ts; absent in older reports). */
    description?: string; descriptionTruncated?: boolean; descriptionContentType?: string;
    author?: string; authorEmail?: string; maintainer?: string; maintainerEmail?: string;
    license?: string; licenseExpression?: string; keywords?: string[]; homePage?: string; downloadUrl?: string;
    projectUrls?: { label: string; url: string }[]; classifiers?: string[]; providesExtra?: string[];
    metadataVersion?: string;
    /** Where `pyti audit` got the file (absent in reports of a slave's jobs and older reports). */
    origin?: DistributionOrigin;
  };
  backend: { name: string; isolation: string; network: string; accelerator?: string };
  /** The guest; `paths` (absent in older reports) are what the rules judged paths against. */
  guest?: Pick<AgentHello, 'python' | 'platform' | 'machine' | 'tools' | 'agentVersion'> & { paths?: AgentHello['paths'] };
  /** e.g. `pass`, `test-fail`, `build-fail:deps`, `error:sandbox-protocol`. */
  result: string;
  verdict: Verdict;
  /** Points earned by the findings (see `judge`): ≥ 100 is malicious. */
  score: number;
  /** The rules that earned the score, most points first. */
  scoreReasons: ScoreReason[];
  /** What the static scan of the distribution read (its findings are in `findings`, phase `static`). */
  static?: { files: number; bytes: number; truncated: boolean };
  /** For a malicious verdict: the observation PyPI's observations API takes (sent by the master when configured). */
  observation?: IndexObservation;
  /** Highest severity among findings, if any. */
  maxSeverity?: Severity;
  tasks: ReportTask[];
  /** Present whenever the test task was planned: `status` says whether the suite ran, had no tests, or did not run (why). */
  tests?: TestSummary;
  /** The perf task (`--perf`): the suite's slowest passed tests, each timed 5 more times (call phase). */
  perf?: PerfResult[];
  coverage?: CoverageSummary;
  lint?: LintSummary;
  style?: StyleSummary;
  imports?: ImportResult[];
  /** `missingToolchain`: what the image lacks to build it (a backend, cargo, a compiler, a header): `build-fail:toolchain`. */
  build?: {
    mode?: string; wheel?: string | null; missingBuildRequirements?: string[]; missingToolchain?: string[]; backend?: string; backendDistribution?: string;
    /**
     * An isolated build's environment: made by `installer` from the host's plan (no resolver in the guest), or
     * by `pip` (`python -m build`: no usable plan); `resolverFallback` when the backend's
     * get_requires_for_build_wheel asked for what the plan lacked and pip installed it from the wheelhouse.
     */
    environment?: { installer: 'installer' | 'pip'; reason?: string; resolverFallback?: { reason: string; requirements: string[] } };
    /**
     * A build without isolation that saw only its build requirements' distributions of the image (their
     * metadata directories, e.g. `setuptools-66.1.1.egg-info`), as pip's isolated build would;
     * `widened` when the backend needed more and the build then saw every package of the image.
     */
    view?: { distributions: string[]; widened?: boolean };
  };
  install?: {
    wheel?: string; missingDependencies?: string[]; installed?: { name: string; version: string }[];
    /** What installed: `installer` (the host's install plan, no resolver in the guest) or `pip` (no plan, or the fallback). */
    installer?: 'installer' | 'pip';
    /** Set when the built wheel needed what the host's plan lacked and the wheelhouse had: pip's resolver ran in the guest. */
    resolverFallback?: { reason: string; requirements: string[] };
  };
  /** How far the audit reached into the payload: fallback modules used, Windows shims run, execute calls. */
  reach?: ReachSummary;
  /** The traced phases: process tree, files, network. */
  traces: Partial<Record<Phase, TraceSummary & { stats: { lines: number; bytes: number; unparsed: number } }>>;
  findings: Finding[];
  /** What the traced phases on the sinkhole network looked up, connected to and sent (absent: no phase was on it). */
  network?: SinkholeRecord[];
  /** The canary credentials planted for this audit (fake, random per audit; kept to rescore). */
  bait?: { files: string[]; canaries: { id: string; value: string }[] };
  infraError?: InfraError;
  /** Earlier attempts that ended in an infrastructure failure and were run again on a fresh sandbox. */
  retried?: RetriedAttempt[];
  timings: { startedAt: string; totalMs: number; bootMs?: number; runMs?: number };
  /** Raw-data files kept beside the report, relative to it. */
  rawFiles: string[];
  /** The sandbox's console or stderr (capped). */
  console?: string;
}
