/**
 * Reads PEP 792 project status while following the change log: an entry the ingest does not act on
 * (`other`: a status change, an owner added…) about a project the master has audited makes it read
 * that project's JSON Simple page and record its status (project-status-store.ts), so a project
 * quarantined after its audit marks that audit even without the `/simple/` follower. Best effort: a
 * failure is logged and never stops the change log; at most `maxPerPage` projects are read per page.
 */
import { PytiError } from '@pyti/vm-agent';
import type { Db } from '../db/database.js';
import type { ChangeEvent } from '../feeds/feed-types.js';
import type { SimpleProject } from '../feeds/simple-index.js';
import type { ProjectStatusStore } from './project-status-store.js';

export interface ProjectStatusCheckerOptions {
  db: Db;
  /** Reads a project's Simple page (SimpleIndexReader.project). */
  read: (name: string) => Promise<SimpleProject>;
  statuses: ProjectStatusStore;
  log?: (line: string) => void;
  /** Default 20. */
  maxPerPage?: number;
}

export class ProjectStatusChecker {
  private readonly audited;

  constructor(private readonly opts: ProjectStatusCheckerOptions) {
    this.audited = opts.db.prepare('SELECT 1 AS x FROM jobs WHERE project_key = ? LIMIT 1');
  }

  /** Reads and records the status of the audited projects `other` entries of this page name. */
  async check(events: readonly ChangeEvent[]): Promise<void> {
    const names = new Map<string, { name: string; serial: number }>();
    for (const e of events) {
      if (e.kind !== 'other' || names.size >= (this.opts.maxPerPage ?? 20)) continue;
      if (this.audited.get(e.normalized) === undefined) continue;
      names.set(e.normalized, { name: e.name, serial: e.serial });
    }
    for (const [normalized, { name, serial }] of names) {
      try {
        const page = await this.opts.read(name);
        const before = this.opts.statuses.get(normalized)?.status ?? 'active';
        if (this.opts.statuses.record(normalized, page.status, page.statusReason, page.lastSerial ?? serial)) {
          this.opts.log?.(`project status: ${name}: ${before} → ${page.status} (PEP 792)${page.statusReason ? `: ${page.statusReason}` : ''}`);
        }
      } catch (err) {
        const code = err instanceof PytiError ? err.code : 'PYTI_INDEX_UNREACHABLE';
        this.opts.log?.(`project status: ${name}: ${code}: ${(err as Error).message}`);
      }
    }
  }
}
