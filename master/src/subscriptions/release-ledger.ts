/**
 * What the master has seen of the index's releases, in its database: projects created while it
 * followed the change log (for `new-projects`), releases and files it audited (with their state on
 * the index: active, yanked, removed), and the link from each audit a subscription submitted to that
 * subscription, release and file. Every method runs inside the caller's transaction.
 */
import type { ReleaseFile } from '../feeds/feed-types.js';
import type { Db } from '../db/database.js';

/** The state of a release or file on the index. */
export type ReleaseState = 'active' | 'yanked' | 'removed';

/** A project the change log showed being created. */
export interface ProjectRow {
  normalized: string;
  name: string;
  created_serial: number | null;
  first_version: string | null;
  removed: number;
}

/** A queued audit linked to a subscription. */
export interface QueuedLink {
  job_id: string;
  subscription_id: number;
}

export class ReleaseLedger {
  private readonly st;

  constructor(db: Db) {
    const queuedJoin = `SELECT sj.job_id, sj.subscription_id FROM subscription_jobs sj JOIN jobs j ON j.id = sj.job_id WHERE j.state = 'queued'`;
    // Driven by the release's links (CROSS JOIN keeps that order), not by every queued job.
    const queuedOfLinks = `SELECT sj.job_id, sj.subscription_id FROM subscription_jobs sj CROSS JOIN jobs j ON j.id = sj.job_id WHERE j.state = 'queued'`;
    // Portable SQL (SQLite and PostgreSQL): "the larger serial" is a CASE, not SQLite's two-argument
    // MAX, and DO UPDATE names the table's own columns `table.column` (PostgreSQL finds bare names ambiguous).
    this.st = {
      created: db.prepare(`INSERT INTO feed_projects (normalized, name, created_serial, first_version, removed) VALUES (?, ?, ?, NULL, 0)
        ON CONFLICT (normalized) DO UPDATE SET name = excluded.name, created_serial = excluded.created_serial, first_version = NULL, removed = 0`),
      project: db.prepare('SELECT * FROM feed_projects WHERE normalized = ?'),
      firstVersion: db.prepare('UPDATE feed_projects SET first_version = ? WHERE normalized = ? AND first_version IS NULL AND removed = 0'),
      projectRemoved: db.prepare('UPDATE feed_projects SET removed = 1 WHERE normalized = ?'),
      release: db.prepare(`INSERT INTO feed_releases (normalized, version, name, state, state_reason, first_serial, last_serial) VALUES (@n, @v, @name, @state, @reason, @serial, @serial)
        ON CONFLICT (normalized, version) DO UPDATE SET name = @name, last_serial = CASE WHEN feed_releases.last_serial > @serial THEN feed_releases.last_serial ELSE @serial END,
          state = CASE WHEN @state = 'active' AND feed_releases.state = 'yanked' THEN 'yanked' ELSE @state END,
          state_reason = CASE WHEN @state = 'active' AND feed_releases.state = 'yanked' THEN feed_releases.state_reason ELSE @reason END`),
      file: db.prepare(`INSERT INTO feed_files (normalized, version, filename, packagetype, sha256, state, serial) VALUES (@n, @v, @f, @type, @sha, @state, @serial)
        ON CONFLICT (normalized, version, filename) DO UPDATE SET packagetype = @type, sha256 = @sha, state = @state, serial = CASE WHEN feed_files.serial > @serial THEN feed_files.serial ELSE @serial END`),
      releaseState: db.prepare('SELECT state FROM feed_releases WHERE normalized = ? AND version = ?').pluck(),
      hasLink: db.prepare('SELECT 1 FROM subscription_jobs WHERE subscription_id = ? AND normalized = ? AND version = ? AND filename = ?'),
      link: db.prepare(`INSERT INTO subscription_jobs (job_id, subscription_id, normalized, version, filename, serial, release_state, created_at)
        VALUES (?, ?, ?, ?, ?, ?, 'active', ?)`),
      setReleaseState: db.prepare(`UPDATE feed_releases SET state = @state, state_reason = @reason, last_serial = CASE WHEN last_serial > @serial THEN last_serial ELSE @serial END
        WHERE normalized = @n AND version = @v AND (@state = 'removed' OR state = @from)`),
      releaseFilesState: db.prepare(`UPDATE feed_files SET state = @state, serial = CASE WHEN serial > @serial THEN serial ELSE @serial END WHERE normalized = @n AND version = @v AND (@state = 'removed' OR state = @from)`),
      releaseLinksState: db.prepare(`UPDATE subscription_jobs SET release_state = @state WHERE normalized = @n AND version = @v AND (@state = 'removed' OR release_state = @from)`),
      queuedOfRelease: db.prepare(`${queuedOfLinks} AND sj.normalized = ? AND sj.version = ? ORDER BY j.seq`),
      fileState: db.prepare(`UPDATE feed_files SET state = 'removed', serial = CASE WHEN serial > @serial THEN serial ELSE @serial END WHERE normalized = @n AND version = @v AND filename = @f`),
      fileLinksState: db.prepare(`UPDATE subscription_jobs SET release_state = 'removed' WHERE normalized = @n AND version = @v AND filename = @f`),
      queuedOfFile: db.prepare(`${queuedOfLinks} AND sj.normalized = ? AND sj.version = ? AND sj.filename = ? ORDER BY j.seq`),
      projectReleasesRemoved: db.prepare(`UPDATE feed_releases SET state = 'removed', state_reason = @reason, last_serial = CASE WHEN last_serial > @serial THEN last_serial ELSE @serial END WHERE normalized = @n`),
      projectFilesRemoved: db.prepare(`UPDATE feed_files SET state = 'removed', serial = CASE WHEN serial > @serial THEN serial ELSE @serial END WHERE normalized = @n`),
      projectLinksRemoved: db.prepare(`UPDATE subscription_jobs SET release_state = 'removed' WHERE normalized = @n`),
      queuedOfProject: db.prepare(`${queuedOfLinks} AND sj.normalized = ? ORDER BY j.seq`),
      // A link the subscription dropped no longer counts in its backlog (its audit may go on for another subscription).
      queuedCount: db.prepare(`SELECT COUNT(*) AS n FROM jobs j JOIN subscription_jobs sj ON sj.job_id = j.id WHERE j.state = 'queued' AND sj.subscription_id = ?
        AND sj.dropped_reason IS NULL`),
      oldestQueued: db.prepare(`${queuedJoin} AND sj.subscription_id = ? AND sj.dropped_reason IS NULL ORDER BY j.seq LIMIT ?`),
      dropped: db.prepare('UPDATE subscription_jobs SET dropped_reason = ? WHERE job_id = ? AND subscription_id = ?'),
      wantedElsewhere: db.prepare('SELECT 1 FROM subscription_jobs WHERE job_id = ? AND subscription_id != ? AND dropped_reason IS NULL LIMIT 1'),
    };
  }

  /** A `create` action: the project is new (again, after a removal). */
  projectCreated(normalized: string, name: string, serial: number): void {
    this.st.created.run(normalized, name, serial);
  }

  /** The project as the change log showed it being created, or undefined. */
  project(normalized: string): ProjectRow | undefined {
    return this.st.project.get(normalized) as ProjectRow | undefined;
  }

  /** Notes a release of a created project: the first one becomes its first version. */
  noteRelease(normalized: string, version: string): void {
    this.st.firstVersion.run(version, normalized);
  }

  /**
   * Records a release and its files as the index listed them (`files` null: it was gone when asked).
   * A yanked release stays yanked (only `unyank release` makes it active); a removed one comes back.
   */
  recordRelease(name: string, normalized: string, version: string, serial: number, files: ReleaseFile[] | null): void {
    const state: ReleaseState = files === null ? 'removed' : 'active';
    this.st.release.run({ n: normalized, v: version, name, state, reason: files === null ? 'gone from the index when its files were read' : null, serial });
    for (const f of files ?? []) {
      this.st.file.run({ n: normalized, v: version, f: f.filename, type: f.packagetype, sha: f.sha256, state: f.yanked ? 'yanked' : 'active', serial });
    }
  }

  /** The recorded state of a release, or undefined when it was never recorded. */
  releaseState(normalized: string, version: string): ReleaseState | undefined {
    return this.st.releaseState.get(normalized, version) as ReleaseState | undefined;
  }

  /** Whether the subscription already has an audit of this file. */
  hasLink(subscriptionId: number, normalized: string, version: string, filename: string): boolean {
    return this.st.hasLink.get(subscriptionId, normalized, version, filename) !== undefined;
  }

  /** Links an audit to the subscription, release and file it was submitted for. */
  link(jobId: string, subscriptionId: number, normalized: string, version: string, filename: string, serial: number, now: number): void {
    this.st.link.run(jobId, subscriptionId, normalized, version, filename, serial, now);
  }

  /**
   * Sets a release's state (`yanked` from active, `active` from yanked, `removed` from anything), with
   * its files and audits; returns its queued audits.
   */
  markRelease(normalized: string, version: string, state: ReleaseState, reason: string, serial: number): QueuedLink[] {
    const from = state === 'active' ? 'yanked' : 'active';
    const p = { n: normalized, v: version, state, from, reason, serial };
    this.st.setReleaseState.run(p);
    this.st.releaseFilesState.run({ n: normalized, v: version, state, from, serial });
    this.st.releaseLinksState.run({ n: normalized, v: version, state, from });
    return this.st.queuedOfRelease.all(normalized, version) as QueuedLink[];
  }

  /** Marks one file removed (with its audits); returns its queued audits. */
  markFileRemoved(normalized: string, version: string, filename: string, serial: number): QueuedLink[] {
    this.st.fileState.run({ n: normalized, v: version, f: filename, serial });
    this.st.fileLinksState.run({ n: normalized, v: version, f: filename });
    return this.st.queuedOfFile.all(normalized, version, filename) as QueuedLink[];
  }

  /** Marks every release and file of a project removed; returns its queued audits. */
  markProjectRemoved(normalized: string, serial: number): QueuedLink[] {
    this.st.projectRemoved.run(normalized);
    this.st.projectReleasesRemoved.run({ n: normalized, reason: 'project removed', serial });
    this.st.projectFilesRemoved.run({ n: normalized, serial });
    this.st.projectLinksRemoved.run({ n: normalized });
    return this.st.queuedOfProject.all(normalized) as QueuedLink[];
  }

  /** How many of the subscription's audits are queued now. */
  queuedCount(subscriptionId: number): number {
    return (this.st.queuedCount.get(subscriptionId) as { n: number }).n;
  }

  /** The subscription's `n` oldest queued audits. */
  oldestQueued(subscriptionId: number, n: number): QueuedLink[] {
    return this.st.oldestQueued.all(subscriptionId, n) as QueuedLink[];
  }

  /** Records why the subscription dropped its link to an audit. */
  dropped(jobId: string, subscriptionId: number, reason: string): void {
    this.st.dropped.run(reason, jobId, subscriptionId);
  }

  /** Whether another subscription links the audit and has not dropped it (one audit per file: it is shared). */
  wantedElsewhere(jobId: string, subscriptionId: number): boolean {
    return this.st.wantedElsewhere.get(jobId, subscriptionId) !== undefined;
  }
}
