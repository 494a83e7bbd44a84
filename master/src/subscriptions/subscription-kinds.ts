/**
 * The kinds of subscriptions, as a registry other modules extend (`registerSubscriptionKind`): each
 * kind checks and normalizes its parameters (the `spec` stored as JSON) and says which uploads from
 * the index's change log it follows. The kind is an open string in the database, so a new kind needs
 * no migration.
 */
import { SubscriptionInvalidError } from './subscription-errors.js';
import { NAME_GLOB, PROJECT_NAME, globMatcher, normalizeGlob, normalizeProjectName } from './name-glob.js';

/** Which releases of the index a subscription follows. */
export type IndexMatcher =
  /** Releases of projects whose normalized name passes. */
  | { kind: 'names'; test: (normalized: string) => boolean }
  /** The first release of projects created while the master follows the index. */
  | { kind: 'first-release' };

export interface SubscriptionKindDefinition {
  /** One line for `--help` and errors. */
  describe: string;
  /** Whether it follows the index's change log (its existence makes `--follow` auto poll the index). */
  followsIndex: boolean;
  /** Checks the kind's fields of a create request; returns the spec to store. Throws SubscriptionInvalidError. */
  parseSpec(request: Record<string, unknown>): Record<string, unknown>;
  /** How it follows the index's change log, from a stored spec; null: it does not (e.g. git). */
  indexMatcher(spec: Record<string, unknown>): IndexMatcher | null;
}

const MAX_PROJECTS = 1000;

function noExtra(request: Record<string, unknown>, allowed: string[]): void {
  for (const f of ['projects', 'pattern']) {
    if (request[f] !== undefined && !allowed.includes(f)) throw new SubscriptionInvalidError(f, `does not go with kind ${String(request.kind)}`);
  }
}

const kinds = new Map<string, SubscriptionKindDefinition>([
  ['all', {
    describe: 'every upload to the index',
    followsIndex: true,
    parseSpec: (r) => { noExtra(r, []); return {}; },
    indexMatcher: () => ({ kind: 'names', test: () => true }),
  }],
  ['projects', {
    describe: 'uploads of the listed projects',
    followsIndex: true,
    parseSpec: (r) => {
      noExtra(r, ['projects']);
      const p = r.projects;
      if (!Array.isArray(p) || p.length === 0 || p.length > MAX_PROJECTS) throw new SubscriptionInvalidError('projects', `must list 1..${MAX_PROJECTS} project names`);
      const names = new Set<string>();
      for (const n of p) {
        if (typeof n !== 'string' || !PROJECT_NAME.test(n)) throw new SubscriptionInvalidError('projects', `${JSON.stringify(String(n).slice(0, 100))} is not a project name`);
        names.add(normalizeProjectName(n));
      }
      return { projects: [...names].sort() };
    },
    indexMatcher: (spec) => {
      const names = new Set(Array.isArray(spec.projects) ? spec.projects as string[] : []);
      return { kind: 'names', test: (n) => names.has(n) };
    },
  }],
  ['pattern', {
    describe: 'uploads of projects whose normalized name matches a glob (* and ?)',
    followsIndex: true,
    parseSpec: (r) => {
      noExtra(r, ['pattern']);
      if (typeof r.pattern !== 'string' || !NAME_GLOB.test(r.pattern)) throw new SubscriptionInvalidError('pattern', 'must be a glob of name characters, * and ? (1-200 characters)');
      return { pattern: normalizeGlob(r.pattern) };
    },
    indexMatcher: (spec) => ({ kind: 'names', test: globMatcher(String(spec.pattern ?? '')) }),
  }],
  ['new-projects', {
    describe: 'the first release of every project created on the index',
    followsIndex: true,
    parseSpec: (r) => { noExtra(r, []); return {}; },
    indexMatcher: () => ({ kind: 'first-release' }),
  }],
]);

/** Adds a kind (e.g. `git`); throws when it exists. */
export function registerSubscriptionKind(kind: string, def: SubscriptionKindDefinition): void {
  if (kinds.has(kind)) throw new Error(`subscription kind ${kind} is already registered`);
  kinds.set(kind, def);
}

/** The definition of a kind, or undefined. */
export function subscriptionKind(kind: string): SubscriptionKindDefinition | undefined {
  return kinds.get(kind);
}

/** The kinds known now. */
export function subscriptionKinds(): string[] {
  return [...kinds.keys()];
}
