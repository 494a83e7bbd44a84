/**
 * The shape of a release diff (see diffAudits): what changed between two stored audit reports. Every
 * list is capped (see DIFF_LIST_CAP) with the number left out, so a diff of two huge reports stays
 * small; strings come from the reports (slave data) and must be escaped wherever they are rendered.
 */

/** Items only in the newer report (`added`) and only in the older one (`removed`). */
export interface SetDiff<T> {
  added: T[];
  removed: T[];
  /** Items left out of `added` / `removed` past the cap. */
  omitted?: { added: number; removed: number };
}

/** One side of the diff: which audit and report. */
export interface DiffSide {
  /** The master's audit id when the report came from the master (set by the caller). */
  auditId?: string;
  project: string;
  version: string;
  filename: string;
  verdict: string;
  result: string;
  score: number;
  maxSeverity: string | null;
}

/** A value before and after (null where the report does not have it). */
export interface Change<T> {
  from: T | null;
  to: T | null;
  changed: boolean;
}

export interface InstalledPackage {
  name: string;
  version: string;
}

/** A traced-phase item: the phase it happened in and its text (a command, a path, a target). */
export interface PhaseItem {
  phase: string;
  text: string;
}

/** A finding reduced to what identifies it across releases. */
export interface DiffFinding {
  rule: string;
  severity: string;
  phase: string;
  title: string;
  /** The evidence lines that identify it (trace summaries, or `file: excerpt` for static findings). */
  evidence: string[];
}

export interface TestCounts {
  status: string | null;
  total: number;
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
}

export interface TestsDiff {
  from: TestCounts | null;
  to: TestCounts | null;
  /** Tests failing (failed or error) in the newer report that passed, were skipped or did not exist in the older one. */
  newFailures: SetDiff<string>['added'];
  /** Tests failing in the older report that pass in the newer one. */
  fixed: string[];
  /** Test ids only in the newer report / only in the older one. */
  added: string[];
  removed: string[];
  /** Tests failing in both. */
  stillFailing: number;
  omitted?: { newFailures: number; fixed: number; added: number; removed: number };
}

export interface AuditDiff {
  from: DiffSide;
  to: DiffSide;
  verdict: Change<string>;
  result: Change<string>;
  score: Change<number>;
  /** Declared requirements (Requires-Dist) and the installed set (name and version; the audited package itself left out). */
  dependencies: {
    declared: SetDiff<string>;
    installed: SetDiff<InstalledPackage>;
    changed: { name: string; from: string; to: string }[];
  };
  /** Commands run in each traced phase (random temp names and the release's version replaced, see normalize). */
  processes: SetDiff<PhaseItem>;
  /** Paths written outside the install (the work area, temp dirs and pip's cache left out), with their operations. */
  files: SetDiff<PhaseItem>;
  /** Network operations on IP addresses (`connect 127.0.0.1:9/tcp`). */
  network: SetDiff<PhaseItem>;
  /** Names looked up. */
  dns: SetDiff<PhaseItem>;
  /** What the sinkhole saw (DNS queries, connections, HTTP requests); null when neither audit ran on the sinkhole network. */
  sinkhole: SetDiff<PhaseItem> | null;
  findings: SetDiff<DiffFinding>;
  tests: TestsDiff;
  coverage: Change<number>;
  lint: { score: Change<number>; counts: { type: string; from: number; to: number }[]; style: Change<number> };
  /** True when anything above changed (other than the version). */
  changed: boolean;
  /** One line per notable change, most important first (new findings, new network targets, new failures …). */
  highlights: string[];
}
