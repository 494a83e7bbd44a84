/**
 * The test index's change log, as warehouse's `JournalEntry` table: every change gets the next
 * serial (strictly increasing, starting at a configurable base so that clients assume nothing about
 * 0) and an entry `[name, version, timestamp, action, serial]` with pypi.org's action texts
 * (`create`, `new release`, `add <python_version> file <filename>`, `remove file <filename>`,
 * `remove release`, `remove project`, `yank release`, `unyank release`, and anything else a test
 * records, e.g. `add Owner alice`). Each entry carries the state change it made, so the state at
 * any serial can be rebuilt (`stateAt`).
 */
import { IndexState, type IndexChange } from './index-state.js';
import { normalizeName } from './names.js';

/** One change-log entry. */
export interface JournalEntry {
  /** The project name as registered. */
  name: string;
  /** Null for project-level actions (`create`, `remove project`), as warehouse records them. */
  version: string | null;
  /** Seconds since the epoch (integer), as `changelog_since_serial` returns it. */
  timestamp: number;
  action: string;
  serial: number;
  /** When it happened, ms since the epoch (the state's creation times). */
  at: number;
  change: IndexChange;
}

/** The first serial by default: not 0 or 1, so clients cannot get away with assuming either. */
export const DEFAULT_SERIAL_BASE = 1000;

/** An append-only change log; see the file comment. */
export class Journal {
  private readonly list: JournalEntry[] = [];
  private next: number;

  constructor(serialBase = DEFAULT_SERIAL_BASE) {
    if (!Number.isSafeInteger(serialBase) || serialBase < 1) throw new Error(`test index: serialBase must be a positive integer, not ${serialBase}`);
    this.next = serialBase;
  }

  /** Records an entry with the next serial; the caller applies `change` to the live state. */
  append(name: string, version: string | null, action: string, change: IndexChange, at: number): JournalEntry {
    const entry = { name, version, timestamp: Math.floor(at / 1000), action, serial: this.next++, at, change };
    this.list.push(entry);
    return entry;
  }

  /** The newest serial, or null while the log is empty (warehouse's `max(id)` of no rows). */
  lastSerial(): number | null {
    return this.list.length ? this.list[this.list.length - 1]!.serial : null;
  }

  /** Entries with a serial above `serial`, ascending, at most `limit` of them. */
  since(serial: number, limit: number): JournalEntry[] {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid]!.serial <= serial) lo = mid + 1;
      else hi = mid;
    }
    return this.list.slice(lo, lo + limit);
  }

  /** Every entry, ascending (a copy). */
  entries(): JournalEntry[] {
    return [...this.list];
  }

  /**
   * The serial just before the upload that brought `project`'s newest file: before its `add … file`
   * entry and the `create` / `new release` entries the same upload recorded. Null when the project
   * never had a file.
   */
  beforeNewestUpload(project: string): number | null {
    let i = this.list.length - 1;
    while (i >= 0 && !(this.list[i]!.change.op === 'add-file' && normalizeName(this.list[i]!.name) === project)) i--;
    if (i < 0) return null;
    const upload = this.list[i]!;
    while (i > 0) {
      const prev = this.list[i - 1]!;
      if (prev.at !== upload.at || normalizeName(prev.name) !== project || (prev.change.op !== 'create' && prev.change.op !== 'new-release')) break;
      i--;
    }
    return this.list[i]!.serial - 1;
  }

  /** One project's state as it was at `serial`, rebuilt from the log (other projects are left out). */
  stateAt(project: string, serial: number): IndexState {
    const state = new IndexState();
    for (const e of this.list) {
      if (e.serial > serial) break;
      if (normalizeName(e.name) === project) state.apply(e.change, e.at, e.serial);
    }
    return state;
  }
}
