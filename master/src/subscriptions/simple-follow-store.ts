/**
 * The PEP 691 follower's state in the master's database, per index URL: when it started following
 * (the 14-day window is measured from there), the root listing's last ETag and serial, each
 * project's `_last-serial` as last processed, and the files it has seen per project (with the files
 * the change-log ingest recorded in the release ledger, what "already seen" means). Every write is
 * idempotent, so a pass interrupted anywhere is simply done again.
 */
import type { Db } from '../db/database.js';
import type { Clock } from '../queue/clock.js';

/** A row of `simple_follow`. */
export interface SimpleFollowRow {
  index_url: string;
  started_at: number;
  etag: string | null;
  root_serial: number | null;
  last_poll_at: number | null;
  last_success_at: number | null;
  last_error_code: string | null;
  last_error_message: string | null;
  not_modified: number;
  pages_fetched: number;
  files_found: number;
}

/** A file recorded as seen. */
export interface SeenFile {
  filename: string;
  version: string;
  sha256: string | null;
  uploadMs: number | null;
}

export class SimpleFollowStore {
  private readonly st;

  constructor(private readonly db: Db, readonly indexUrl: string, private readonly clock: Clock) {
    this.st = {
      ensure: db.prepare('INSERT INTO simple_follow (index_url, started_at) VALUES (?, ?) ON CONFLICT (index_url) DO NOTHING'),
      get: db.prepare('SELECT * FROM simple_follow WHERE index_url = ?'),
      projects: db.prepare('SELECT normalized, last_serial FROM simple_projects WHERE index_url = ?'),
      project: db.prepare('SELECT last_serial FROM simple_projects WHERE index_url = ? AND normalized = ?'),
      upsertProject: db.prepare(`INSERT INTO simple_projects (index_url, normalized, name, last_serial) VALUES (@url, @n, @name, @serial)
        ON CONFLICT (index_url, normalized) DO UPDATE SET name = excluded.name, last_serial = excluded.last_serial`),
      files: db.prepare('SELECT filename FROM simple_files WHERE index_url = ? AND normalized = ?'),
      ledgerFiles: db.prepare('SELECT filename FROM feed_files WHERE normalized = ?'),
      addFile: db.prepare(`INSERT INTO simple_files (index_url, normalized, filename, version, sha256, upload_ms, serial) VALUES (@url, @n, @f, @v, @sha, @up, @serial)
        ON CONFLICT (index_url, normalized, filename) DO NOTHING`),
      polled: db.prepare('UPDATE simple_follow SET last_poll_at = ? WHERE index_url = ?'),
      notModified: db.prepare('UPDATE simple_follow SET not_modified = not_modified + 1, last_success_at = @now, last_error_code = NULL, last_error_message = NULL WHERE index_url = @url'),
      rootDone: db.prepare(`UPDATE simple_follow SET etag = @etag, root_serial = COALESCE(@serial, root_serial), last_success_at = @now, last_error_code = NULL,
        last_error_message = NULL WHERE index_url = @url`),
      counts: db.prepare('UPDATE simple_follow SET pages_fetched = pages_fetched + @pages, files_found = files_found + @files WHERE index_url = @url'),
      failed: db.prepare('UPDATE simple_follow SET last_error_code = ?, last_error_message = ? WHERE index_url = ?'),
    };
  }

  /** The state, created (started now) on first use. */
  state(): SimpleFollowRow {
    this.st.ensure.run(this.indexUrl, this.clock.now());
    return this.st.get.get(this.indexUrl) as SimpleFollowRow;
  }

  /** Each known project's `_last-serial` as last processed. */
  projectSerials(): Map<string, number> {
    return new Map((this.st.projects.all(this.indexUrl) as { normalized: string; last_serial: number }[]).map((r) => [r.normalized, r.last_serial]));
  }

  /** Records projects as processed at their serials (the first listing: nothing before it is followed). */
  baseline(projects: { normalized: string; name: string; lastSerial: number }[]): void {
    this.db.transaction(() => {
      for (const p of projects) this.st.upsertProject.run({ url: this.indexUrl, n: p.normalized, name: p.name, serial: p.lastSerial });
    })();
  }

  /** The files of a project already seen: by this follower, or recorded by the change-log ingest. */
  seenFiles(normalized: string): Set<string> {
    const rows = [...this.st.files.all(this.indexUrl, normalized), ...this.st.ledgerFiles.all(normalized)] as { filename: string }[];
    return new Set(rows.map((r) => r.filename));
  }

  /** Records a project's page as processed: its serial and every file it listed. */
  projectDone(normalized: string, name: string, serial: number, files: SeenFile[]): void {
    this.db.transaction(() => {
      for (const f of files) {
        this.st.addFile.run({ url: this.indexUrl, n: normalized, f: f.filename, v: f.version, sha: f.sha256, up: f.uploadMs, serial });
      }
      this.st.upsertProject.run({ url: this.indexUrl, n: normalized, name, serial });
    })();
  }

  polled(): void {
    this.st.polled.run(this.clock.now(), this.indexUrl);
  }

  notModified(): void {
    this.st.notModified.run({ now: this.clock.now(), url: this.indexUrl });
  }

  /** Records the root listing as fully processed (its ETag is only kept then, so a 304 never hides unprocessed projects). */
  rootDone(etag: string | null, serial: number | null): void {
    this.st.rootDone.run({ etag, serial, now: this.clock.now(), url: this.indexUrl });
  }

  count(pages: number, files: number): void {
    this.st.counts.run({ pages, files, url: this.indexUrl });
  }

  failed(code: string, message: string): void {
    this.st.failed.run(code, message.slice(0, 2000), this.indexUrl);
  }
}
