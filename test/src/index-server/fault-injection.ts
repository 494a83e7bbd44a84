/**
 * Faults the test index injects into its next answers, so clients can prove they survive them. Each
 * count is consumed by one answer; an XML-RPC call consumes at most one fault, in the order
 * rateLimit, malformed, truncate.
 */

/** Faults to inject; counts add up with what is still pending. */
export interface FaultPlan {
  /** The next N XML-RPC calls answer pypi.org's rate-limit fault (-32500 `HTTPTooManyRequests: …`). */
  rateLimit?: number;
  /** HTTP status of a rate-limit answer: 200 as pypi.org sends every fault (default), or 429. */
  rateLimitHttpStatus?: 200 | 429;
  /** Adds warehouse's ` Limit may reset in N seconds.` to the rate-limit fault. */
  rateLimitResetSeconds?: number;
  /** The next N XML-RPC answers: headers announce the whole body, half of it is sent, the connection is cut. */
  truncate?: number;
  /** The next N XML-RPC answers are complete HTTP answers whose XML is not well-formed (the answer cut in half). */
  malformed?: number;
  /** As `truncate`, for the next N RSS answers (`/rss/*.xml`). */
  rssTruncate?: number;
  /** As `malformed`, for the next N RSS answers. */
  rssMalformed?: number;
  /**
   * The next `count` JSON API answers for `project` (`/pypi/<project>/json`, `/pypi/<project>/<v>/json`)
   * come from an older snapshot: the project as it was at `serial`, by default just before the upload
   * of its newest file (its `add … file` entry and the `create` / `new release` of the same upload),
   * so the newest file is missing and `X-PyPI-Last-Serial` is older; a project or release that did
   * not exist then answers 404, as a stale CDN would.
   */
  stale?: { project: string; count: number; serial?: number };
  /**
   * Change-log entries that stay in every `changelog_since_serial` answer (until replaced; `[]` clears
   * them), as a broken or hostile index would serve them: spliced in by serial among the real
   * entries above the asked serial (an entry whose serial is not a number comes last). `serial` may
   * be any integer (written as `<int>` even beyond 32 bits, e.g. 2^31 or 2^53 + 1) or a string.
   */
  poisonEntries?: PoisonEntry[];
  /**
   * The JSON API answers for `project` (`/pypi/<project>/json`, `/pypi/<project>/<v>/json`) are broken
   * until set to null: `not-json` (a body cut in half), `bad-file` (a file entry whose sha256 is not
   * hex), `other-project` (a document naming another project), `redirect-away` (a 302 to the same path on
   * `http://pyti-elsewhere.invalid`, a host that is not the index: a hostile or compromised index).
   */
  badRelease?: { project: string; kind: BadReleaseKind | null };
  /**
   * The PEP 691 JSON Simple page of `project` is broken until set to null: `not-json` (a body cut in
   * half), `other-project` (a page naming another project), `bad-status` (a PEP 792 status that is
   * not one of the four), `server-error` (HTTP 503, as an overloaded index answers).
   */
  badSimplePage?: { project: string; kind: BadSimplePageKind | null };
}

/** How a project's JSON Simple page is broken. */
export type BadSimplePageKind = 'not-json' | 'other-project' | 'bad-status' | 'server-error';

/** A change-log entry the index serves as is (see `FaultPlan.poisonEntries`). */
export interface PoisonEntry {
  name: unknown;
  version: unknown;
  timestamp?: unknown;
  action: unknown;
  serial: number | string;
  /** `int` writes a string serial's digits as `<int>` (beyond 2^53 a JSON number loses them). Default: numbers as `<int>`, strings as `<string>`. */
  serialType?: 'int' | 'string';
}

/** How a release's JSON API document is broken. */
export type BadReleaseKind = 'not-json' | 'bad-file' | 'other-project' | 'redirect-away';

/** What is still pending. */
export interface PendingFaults {
  rateLimit: number;
  truncate: number;
  malformed: number;
  rssTruncate: number;
  rssMalformed: number;
  stale: { project: string; count: number; serial?: number }[];
  poisonEntries: PoisonEntry[];
  badReleases: { project: string; kind: BadReleaseKind }[];
  badSimplePages: { project: string; kind: BadSimplePageKind }[];
}

type Counted = 'rateLimit' | 'truncate' | 'malformed' | 'rssTruncate' | 'rssMalformed';

function count(name: string, n: number | undefined): number {
  if (n === undefined) return 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`test index: fault ${name} must be a non-negative integer, not ${n}`);
  return n;
}

/** Pending faults; see the file comment. */
export class FaultInjector {
  private readonly counts: Record<Counted, number> = { rateLimit: 0, truncate: 0, malformed: 0, rssTruncate: 0, rssMalformed: 0 };
  private readonly stale = new Map<string, { count: number; serial?: number }>();
  /** HTTP status of rate-limit answers. */
  rateLimitHttpStatus: 200 | 429 = 200;
  /** The reset hint of rate-limit answers, if any. */
  rateLimitResetSeconds: number | undefined;

  /** The change-log entries served in every answer (see `FaultPlan.poisonEntries`). */
  poisonEntries: PoisonEntry[] = [];
  private readonly badReleases = new Map<string, BadReleaseKind>();
  private readonly badSimplePages = new Map<string, BadSimplePageKind>();

  /** How the JSON Simple page of `project` (normalized) is broken, if it is. */
  badSimplePage(project: string): BadSimplePageKind | undefined {
    return this.badSimplePages.get(project);
  }

  /** How the JSON API answers for `project` (normalized) are broken, if they are. */
  badRelease(project: string): BadReleaseKind | undefined {
    return this.badReleases.get(project);
  }

  /** Adds faults; `normalize` gives the project key of `stale.project`. */
  inject(plan: FaultPlan, normalize: (name: string) => string): void {
    if (plan.poisonEntries !== undefined) {
      if (!Array.isArray(plan.poisonEntries) || plan.poisonEntries.some((e) => typeof e !== 'object' || e === null
        || !((typeof e.serial === 'number' && Number.isInteger(e.serial)) || typeof e.serial === 'string'))) {
        throw new Error('test index: poisonEntries must be an array of {name, version, action, serial (an integer or a string)}');
      }
    }
    if (plan.badRelease !== undefined && (typeof plan.badRelease?.project !== 'string'
      || ![null, 'not-json', 'bad-file', 'other-project', 'redirect-away'].includes(plan.badRelease.kind))) {
      throw new Error('test index: badRelease must be {project, kind: "not-json" | "bad-file" | "other-project" | "redirect-away" | null}');
    }
    for (const k of Object.keys(this.counts) as Counted[]) count(k, plan[k]);
    if (plan.rateLimitHttpStatus !== undefined && plan.rateLimitHttpStatus !== 200 && plan.rateLimitHttpStatus !== 429) {
      throw new Error('test index: rateLimitHttpStatus must be 200 or 429');
    }
    if (plan.stale) {
      count('stale.count', plan.stale.count);
      if (plan.stale.serial !== undefined && !Number.isSafeInteger(plan.stale.serial)) throw new Error('test index: stale.serial must be an integer');
    }
    for (const k of Object.keys(this.counts) as Counted[]) this.counts[k] += plan[k] ?? 0;
    if (plan.rateLimitHttpStatus !== undefined) this.rateLimitHttpStatus = plan.rateLimitHttpStatus;
    if (plan.rateLimitResetSeconds !== undefined) this.rateLimitResetSeconds = plan.rateLimitResetSeconds;
    if (plan.badSimplePage !== undefined && (typeof plan.badSimplePage?.project !== 'string'
      || ![null, 'not-json', 'other-project', 'bad-status', 'server-error'].includes(plan.badSimplePage.kind))) {
      throw new Error('test index: badSimplePage must be {project, kind: "not-json" | "other-project" | "bad-status" | "server-error" | null}');
    }
    if (plan.badSimplePage) {
      const key = normalize(plan.badSimplePage.project);
      if (plan.badSimplePage.kind === null) this.badSimplePages.delete(key);
      else this.badSimplePages.set(key, plan.badSimplePage.kind);
    }
    if (plan.poisonEntries !== undefined) this.poisonEntries = [...plan.poisonEntries];
    if (plan.badRelease) {
      const key = normalize(plan.badRelease.project);
      if (plan.badRelease.kind === null) this.badReleases.delete(key);
      else this.badReleases.set(key, plan.badRelease.kind);
    }
    if (plan.stale && plan.stale.count > 0) {
      const key = normalize(plan.stale.project);
      this.stale.set(key, { count: (this.stale.get(key)?.count ?? 0) + plan.stale.count, serial: plan.stale.serial });
    }
  }

  /** Consumes one `kind` fault if one is pending. */
  take(kind: Counted): boolean {
    if (this.counts[kind] <= 0) return false;
    this.counts[kind]--;
    return true;
  }

  /** Consumes one stale answer for `project` (normalized) if one is pending; returns its serial option. */
  takeStale(project: string): { serial?: number } | null {
    const s = this.stale.get(project);
    if (!s) return null;
    if (--s.count <= 0) this.stale.delete(project);
    return { serial: s.serial };
  }

  /** What is still pending. */
  pending(): PendingFaults {
    return {
      ...this.counts, stale: [...this.stale].map(([project, s]) => ({ project, ...s })), poisonEntries: [...this.poisonEntries],
      badReleases: [...this.badReleases].map(([project, kind]) => ({ project, kind })),
      badSimplePages: [...this.badSimplePages].map(([project, kind]) => ({ project, kind })),
    };
  }
}
