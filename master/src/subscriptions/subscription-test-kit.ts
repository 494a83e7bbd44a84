/**
 * Test helpers for subscriptions: change-log events and release files built by hand, an in-memory
 * "index" of releases that resolves like the JSON API (PYTI_INDEX_NOT_FOUND for a missing release).
 * Used by the unit tests and the benchmark.
 */
import { PytiError } from '@pyti/vm-agent';
import type { ChangeEvent, ChangeKind, ReleaseFile, ReleaseFiles } from '../feeds/feed-types.js';
import { normalizeProjectName } from './name-glob.js';

/** One change-log entry, classified as the reader would. */
export function changeEvent(serial: number, name: string, version: string | null, kind: ChangeKind, filename?: string): ChangeEvent {
  const action = kind === 'new-release' ? 'new release' : kind === 'add-file' ? `add source file ${filename}` : kind === 'remove-file' ? `remove file ${filename}`
    : kind === 'create-project' ? 'create' : kind.replace('-', ' ');
  return { name, normalized: normalizeProjectName(name), version, timestamp: 1_700_000_000 + serial, action, kind, serial, ...(filename ? { filename } : {}) };
}

/** A release file as the JSON API lists it. */
export function releaseFile(filename: string, opts: Partial<ReleaseFile> = {}): ReleaseFile {
  return {
    filename,
    url: `https://files.example/${filename}`,
    sha256: 'a'.repeat(64),
    packagetype: filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
    requiresPython: null,
    yanked: false,
    yankedReason: null,
    sizeBytes: 1000,
    ...opts,
  };
}

/** An index held in memory: releases by name and version, with the serial each answer reports. */
export class MemoryIndex {
  readonly releases = new Map<string, ReleaseFiles>();
  /** Every resolve call (name, version, minSerial). */
  readonly calls: [string, string, number][] = [];

  /** Adds a release with files named `<name>-<version>.tar.gz` and so on. */
  add(name: string, version: string, filenames: string[], serial = 0): void {
    const normalized = normalizeProjectName(name);
    this.releases.set(`${normalized}==${version}`, { name, normalized, version, files: filenames.map((f) => releaseFile(f)), lastSerial: serial });
  }

  remove(name: string, version: string): void {
    this.releases.delete(`${normalizeProjectName(name)}==${version}`);
  }

  /** Resolves like resolveReleaseFiles (a missing release is PYTI_INDEX_NOT_FOUND). */
  resolve = async (name: string, version: string, minSerial: number): Promise<ReleaseFiles> => {
    this.calls.push([name, version, minSerial]);
    const r = this.releases.get(`${normalizeProjectName(name)}==${version}`);
    if (!r) throw new PytiError('PYTI_INDEX_NOT_FOUND', `${name} ${version}: not found`);
    return r;
  };
}

/** A change log held in memory, with PyPI's paging: `since` answers at most `pageSize` events. */
export class MemoryChangelog {
  readonly events: ChangeEvent[] = [];
  /** Errors the next calls throw, in order (a fault, a malformed page…). */
  readonly failures: Error[] = [];
  calls = 0;

  constructor(public serial = 1000, private readonly pageSize = 50_000) {}

  /** Appends an event with the next serial; returns it. */
  add(name: string, version: string | null, kind: ChangeKind, filename?: string): ChangeEvent {
    const e = changeEvent(++this.serial, name, version, kind, filename);
    this.events.push(e);
    return e;
  }

  lastSerial = async (): Promise<number> => {
    this.calls++;
    const f = this.failures.shift();
    if (f) throw f;
    return this.serial;
  };

  since = async (serial: number): Promise<{ events: ChangeEvent[]; nextSerial: number; more: boolean }> => {
    this.calls++;
    const f = this.failures.shift();
    if (f) throw f;
    const events = this.events.filter((e) => e.serial > serial).slice(0, this.pageSize);
    return { events, nextSerial: events.length ? events[events.length - 1]!.serial : serial, more: events.length >= this.pageSize };
  };
}

/** Timers that fire only when told (`runDue`), for tests of polling loops. */
export class ManualTimers {
  now = 0;
  private next = 1;
  readonly pending = new Map<number, { at: number; fn: () => void }>();

  set = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  };

  clear = (h: unknown): void => {
    this.pending.delete(h as number);
  };

  /** The delays of the pending timers from now, soonest first. */
  delays(): number[] {
    return [...this.pending.values()].map((p) => p.at - this.now).sort((a, b) => a - b);
  }

  /** Moves time to the soonest timer and fires it; returns the delay it had, or null when none is pending. */
  fireNext(): number | null {
    const soonest = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0];
    if (!soonest) return null;
    this.pending.delete(soonest[0]);
    const delay = soonest[1].at - this.now;
    this.now = soonest[1].at;
    soonest[1].fn();
    return delay;
  }
}
