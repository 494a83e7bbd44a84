/**
 * What the test index serves at a given serial: projects, their releases (with yank state) and
 * files. It changes only through `apply(change)`, one change per change-log entry, so the same
 * function replays the change log to rebuild an older state (the stale-answer fault injection).
 * Modelled on warehouse's Project / Release / File: a release keeps the metadata of its first
 * upload, yanking is per release, and a release whose last file was removed still exists.
 */
import type { IndexedFile } from './catalog.js';
import { compareVersions, isPrerelease } from './names.js';

/** One state change, as recorded with a change-log entry. `project` is the PEP 503 normalized name. */
export type IndexChange =
  | { op: 'create'; project: string; name: string }
  | { op: 'new-release'; project: string; version: string; meta: IndexedFile }
  | { op: 'add-file'; file: IndexedFile }
  | { op: 'remove-file'; project: string; version: string; filename: string }
  | { op: 'remove-release'; project: string; version: string }
  | { op: 'remove-project'; project: string }
  | { op: 'yank'; project: string; version: string; reason: string | null }
  | { op: 'unyank'; project: string; version: string }
  /** An entry that changes nothing served (e.g. `add Owner …`); it still bumps the project's serial. */
  | { op: 'none'; project: string }
  /** PEP 792: the project's status (`active` clears it). */
  | { op: 'status'; project: string; status: 'active' | 'archived' | 'quarantined' | 'deprecated'; reason: string | null };

/** A release: its files, yank state, and the metadata of its first upload. */
export interface IndexedRelease {
  project: string;
  version: string;
  /** ms since the epoch; the serial of its `new release` entry breaks ties. */
  created: number;
  createdSerial: number;
  /** The first file uploaded to the release (pypi.org keeps the first upload's metadata). */
  meta: IndexedFile;
  yanked: boolean;
  yankedReason: string | null;
  files: Map<string, IndexedFile>;
}

/** A project: its name as first registered, creation time, last serial and releases by version. */
export interface IndexedProject {
  project: string;
  name: string;
  created: number;
  createdSerial: number;
  /** The serial of the newest change-log entry naming this project (pypi.org's `Project.last_serial`). */
  lastSerial: number;
  /** PEP 792 status; absent: active. */
  status?: { status: 'active' | 'archived' | 'quarantined' | 'deprecated'; reason: string | null };
  releases: Map<string, IndexedRelease>;
}

/** A file the index serves, with its release. */
export interface ServedFile {
  file: IndexedFile;
  release: IndexedRelease;
}

const byVersion = (a: IndexedRelease, b: IndexedRelease): number => compareVersions(a.version, b.version);
const newest = <T extends { created: number; createdSerial: number }>(a: T, b: T): number => b.created - a.created || b.createdSerial - a.createdSerial;

/** The served state of an index; see the file comment. */
export class IndexState {
  private readonly byProject = new Map<string, IndexedProject>();

  /** Applies one change recorded at `at` (ms) with `serial`; throws when the change does not fit the state. */
  apply(change: IndexChange, at: number, serial: number): void {
    const project = change.op === 'add-file' ? change.file.project : change.project;
    if (change.op === 'create') {
      if (this.byProject.has(project)) throw new Error(`test index: project ${project} already exists`);
      this.byProject.set(project, { project, name: change.name, created: at, createdSerial: serial, lastSerial: serial, releases: new Map() });
      return;
    }
    const p = this.byProject.get(project);
    if (!p) {
      if (change.op === 'none') return;
      throw new Error(`test index: no project ${project}`);
    }
    p.lastSerial = serial;
    const release = (version: string): IndexedRelease => {
      const r = p.releases.get(version);
      if (!r) throw new Error(`test index: no release ${p.name} ${version}`);
      return r;
    };
    switch (change.op) {
      case 'new-release':
        if (p.releases.has(change.version)) throw new Error(`test index: release ${p.name} ${change.version} already exists`);
        p.releases.set(change.version, {
          project, version: change.version, created: at, createdSerial: serial, meta: change.meta, yanked: false, yankedReason: null, files: new Map(),
        });
        return;
      case 'add-file':
        release(change.file.version).files.set(change.file.filename, change.file);
        return;
      case 'remove-file':
        if (!release(change.version).files.delete(change.filename)) throw new Error(`test index: no file ${change.filename}`);
        return;
      case 'remove-release':
        release(change.version);
        p.releases.delete(change.version);
        return;
      case 'remove-project':
        this.byProject.delete(project);
        return;
      case 'yank': {
        const r = release(change.version);
        r.yanked = true;
        r.yankedReason = change.reason;
        return;
      }
      case 'unyank': {
        const r = release(change.version);
        r.yanked = false;
        r.yankedReason = null;
        return;
      }
      case 'none':
        return;
      case 'status':
        p.status = { status: change.status, reason: change.reason };
        return;
    }
  }

  /** Every project, by normalized name. */
  projects(): IndexedProject[] {
    return [...this.byProject.values()].sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
  }

  /** One project by normalized name. */
  project(project: string): IndexedProject | undefined {
    return this.byProject.get(project);
  }

  /** A project's releases, ascending by version (PEP 440), including releases without files. */
  releases(project: string): IndexedRelease[] {
    return [...(this.byProject.get(project)?.releases.values() ?? [])].sort(byVersion);
  }

  /** A project's served files, by version then filename. */
  files(project: string): ServedFile[] {
    return this.releases(project).flatMap((release) => [...release.files.values()]
      .sort((a, b) => a.filename.localeCompare(b.filename))
      .map((file) => ({ file, release })));
  }

  /** The versions that have files (the Simple API's `versions`), ascending. */
  versionsWithFiles(project: string): string[] {
    return this.releases(project).filter((r) => r.files.size > 0).map((r) => r.version);
  }

  /**
   * The release pypi.org calls the latest (`/pypi/<project>/json`): the highest non-yanked final
   * release, else the highest non-yanked pre-release, else the highest release.
   */
  latest(project: string): IndexedRelease | undefined {
    const all = this.releases(project);
    const live = all.filter((r) => !r.yanked);
    return live.filter((r) => !isPrerelease(r.version)).pop() ?? live.pop() ?? all.pop();
  }

  /** The served file of that name. */
  file(filename: string): ServedFile | undefined {
    for (const p of this.byProject.values()) {
      for (const release of p.releases.values()) {
        const file = release.files.get(filename);
        if (file) return { file, release };
      }
    }
    return undefined;
  }

  /** The served file whose URL path is `urlPath`. */
  byUrlPath(urlPath: string): ServedFile | undefined {
    for (const p of this.byProject.values()) {
      for (const release of p.releases.values()) {
        for (const file of release.files.values()) if (file.urlPath === urlPath) return { file, release };
      }
    }
    return undefined;
  }

  /** The `limit` newest releases of all projects, newest first (`/rss/updates.xml`). */
  newestReleases(limit: number): IndexedRelease[] {
    return [...this.byProject.values()].flatMap((p) => [...p.releases.values()]).sort(newest).slice(0, limit);
  }

  /** The `limit` newest projects that have a release, newest first (`/rss/packages.xml`). */
  newestProjects(limit: number): IndexedProject[] {
    return [...this.byProject.values()].filter((p) => p.releases.size > 0).sort(newest).slice(0, limit);
  }
}
