/**
 * What the master learns from a package index's feeds (PyPI's XML-RPC change log and RSS), as plain
 * data: the contract between the feed readers (master/src/feeds) and the subscription service that
 * turns events into audits (master/src/subscriptions). Everything here came from the network and was
 * validated by the readers: names and versions are bounded strings, serials are safe integers.
 */

/** The kinds of change-log actions PyTI acts on; every other action is `other` (kept, ignored). */
export type ChangeKind =
  /** `new release`: a release (name, version) was created. */
  | 'new-release'
  /** `add <python-version> file <filename>` (e.g. `add source file foo-1.0.tar.gz`, `add py3 file foo-1.0-py3-none-any.whl`). */
  | 'add-file'
  /** `remove file <filename>`. */
  | 'remove-file'
  /** `remove release`. */
  | 'remove-release'
  /** `remove project`. */
  | 'remove-project'
  /** `yank release` / `unyank release`. */
  | 'yank-release'
  | 'unyank-release'
  /** `create`: a new project name was registered. */
  | 'create-project'
  | 'other';

/** One entry of `changelog_since_serial`: `[name, version, timestamp, action, serial]`, classified. */
export interface ChangeEvent {
  /** The project name as the index spelt it. */
  name: string;
  /** PEP 503 normalized name. */
  normalized: string;
  /** Null for project-level actions. */
  version: string | null;
  /** Seconds since the epoch (the index's clock). */
  timestamp: number;
  /** The raw action text (capped at 1,000 characters). */
  action: string;
  kind: ChangeKind;
  /** The file an `add-file` / `remove-file` action names. */
  filename?: string;
  /** The index's serial of this change; strictly increasing within the change log. */
  serial: number;
}

/** One item of an RSS feed (`/rss/updates.xml` or `/rss/packages.xml`). */
export interface FeedItem {
  name: string;
  normalized: string;
  /** Null for `/rss/packages.xml` (new projects), which names no version. */
  version: string | null;
  /** pubDate, ms since the epoch (one-second resolution). */
  publishedMs: number;
  link: string;
}

/** One file of a release, from the JSON API (`/pypi/<name>/<version>/json`, `urls`). */
export interface ReleaseFile {
  filename: string;
  url: string;
  sha256: string;
  packagetype: 'sdist' | 'bdist_wheel' | string;
  requiresPython: string | null;
  yanked: boolean;
  yankedReason: string | null;
  sizeBytes: number | null;
  /** When the index says the file was uploaded (`upload_time_iso_8601`, ms since the epoch), or null/absent when it does not say. */
  uploadTime?: number | null;
}

/** A release's files as the JSON API reported them, with the serial it was current at. */
export interface ReleaseFiles {
  name: string;
  normalized: string;
  version: string;
  files: ReleaseFile[];
  /** `X-PyPI-Last-Serial` of the answer (the project's last serial), or null when absent. */
  lastSerial: number | null;
}

/**
 * A change-log entry the reader set aside instead of failing the whole page: its serial is not a
 * whole number, does not ascend or lies beyond the index's own last serial (`PYTI_FEED_SERIAL_INVALID`:
 * the cursor never moves to it), or its other fields are not the expected types
 * (`PYTI_FEED_ENTRY_MALFORMED`: its serial is trusted, so the cursor may pass it). Every text is
 * capped at 200 characters; nothing here is trusted.
 */
export interface QuarantinedEntry {
  /** The serial as the index sent it (digits, or a description of a value of another type), or null when there was none. */
  serial: string | null;
  name: string | null;
  version: string | null;
  action: string | null;
  code: 'PYTI_FEED_SERIAL_INVALID' | 'PYTI_FEED_ENTRY_MALFORMED';
  reason: string;
  /** True when the serial was beyond the index's last serial (a fresh last serial may clear it). */
  beyondIndex?: boolean;
}
