/**
 * Changes to the test index while it runs, as pypi.org records them: each operation checks that it
 * fits the current state, then records its change-log entries (warehouse's action texts) and applies
 * them. A new file of a new project records `create`, `new release` and `add <python_version> file
 * <filename>` with one timestamp, as one upload does on pypi.org.
 */
import { isoMicros, type IndexedFile } from './catalog.js';
import type { IndexChange, IndexState } from './index-state.js';
import type { Journal } from './journal.js';
import { normalizeName } from './names.js';

/** Records changes to `state` in `journal`; every method returns the serial of its last entry. */
export class Publisher {
  private readonly usedFilenames = new Set<string>();

  constructor(private readonly journal: Journal, private readonly state: IndexState, private readonly clock: () => number) {}

  private record(name: string, version: string | null, action: string, change: IndexChange, at: number): number {
    const entry = this.journal.append(name, version, action, change, at);
    this.state.apply(change, at, entry.serial);
    return entry.serial;
  }

  private projectOf(name: string): { name: string; project: string } {
    const project = normalizeName(name);
    const p = this.state.project(project);
    if (!p) throw new Error(`test index: no project ${JSON.stringify(name)}`);
    return p;
  }

  private releaseOf(name: string, version: string): { name: string; project: string; yanked: boolean } {
    const p = this.projectOf(name);
    const r = this.state.project(p.project)!.releases.get(version);
    if (!r) throw new Error(`test index: no release ${p.name} ${version}`);
    return { name: p.name, project: p.project, yanked: r.yanked };
  }

  /**
   * Publishes a file (its upload time becomes now). pypi.org refuses a filename used before, even
   * after its removal, and so does this; `idempotent` makes re-publishing the served file a no-op
   * instead (the old `addFile`).
   */
  publish(file: IndexedFile, opts: { idempotent?: boolean } = {}): number {
    const served = this.state.file(file.filename);
    if (served && served.file.digests.sha256 !== file.digests.sha256) {
      throw new Error(`test index: ${file.filename} is already served with different content (${served.file.path})`);
    }
    if (served && opts.idempotent) return this.state.project(file.project)!.lastSerial;
    if (this.usedFilenames.has(file.filename)) {
      throw new Error(`test index: ${file.filename} has already been used; pypi.org never accepts a filename twice, even after its removal`);
    }
    const at = this.clock();
    const uploaded: IndexedFile = { ...file, uploadTime: isoMicros(at) };
    const existing = this.state.project(file.project);
    const name = existing?.name ?? file.name;
    if (!existing) this.record(name, null, 'create', { op: 'create', project: file.project, name }, at);
    if (!this.state.project(file.project)!.releases.has(file.version)) {
      this.record(name, file.version, 'new release', { op: 'new-release', project: file.project, version: file.version, meta: uploaded }, at);
    }
    this.usedFilenames.add(file.filename);
    return this.record(name, file.version, `add ${file.pythonVersion} file ${file.filename}`, { op: 'add-file', file: uploaded }, at);
  }

  /** Yanks a release (PEP 592); `reason` becomes `yanked_reason`. */
  yank(name: string, version: string, reason?: string): number {
    const r = this.releaseOf(name, version);
    if (r.yanked) throw new Error(`test index: ${r.name} ${version} is already yanked`);
    return this.record(r.name, version, 'yank release', { op: 'yank', project: r.project, version, reason: reason || null }, this.clock());
  }

  /** Un-yanks a release. */
  unyank(name: string, version: string): number {
    const r = this.releaseOf(name, version);
    if (!r.yanked) throw new Error(`test index: ${r.name} ${version} is not yanked`);
    return this.record(r.name, version, 'unyank release', { op: 'unyank', project: r.project, version }, this.clock());
  }

  /** Removes one file; its release stays, even when it was the last file. */
  removeFile(filename: string): number {
    const served = this.state.file(filename);
    if (!served) throw new Error(`test index: no file ${JSON.stringify(filename)} is served`);
    const p = this.state.project(served.release.project)!;
    return this.record(p.name, served.release.version, `remove file ${filename}`,
      { op: 'remove-file', project: p.project, version: served.release.version, filename }, this.clock());
  }

  /** Removes a release and its files. */
  removeRelease(name: string, version: string): number {
    const r = this.releaseOf(name, version);
    return this.record(r.name, version, 'remove release', { op: 'remove-release', project: r.project, version }, this.clock());
  }

  /** Removes a project with all its releases. */
  removeProject(name: string): number {
    const p = this.projectOf(name);
    return this.record(p.name, null, 'remove project', { op: 'remove-project', project: p.project }, this.clock());
  }

  /**
   * Sets a project's PEP 792 status (`set project status <status>`; it bumps the project's serial).
   * A quarantined project's files are no longer served by the Simple API, as PEP 792 requires.
   */
  setStatus(name: string, status: 'active' | 'archived' | 'quarantined' | 'deprecated', reason: string | null = null): number {
    if (!['active', 'archived', 'quarantined', 'deprecated'].includes(status)) throw new Error(`test index: ${JSON.stringify(status)} is not a PEP 792 status`);
    const p = this.projectOf(name);
    return this.record(p.name, null, `set project status ${status}`, { op: 'status', project: p.project, status, reason: reason || null }, this.clock());
  }

  /** Records an entry that changes nothing served (`add Owner alice`, `update classifiers`, …). */
  addNoise(name: string, action: string, version: string | null = null): number {
    if (!action || /[\r\n]/.test(action)) throw new Error('test index: a change-log action is one non-empty line');
    const project = normalizeName(name);
    return this.record(this.state.project(project)?.name ?? name, version, action, { op: 'none', project }, this.clock());
  }
}
