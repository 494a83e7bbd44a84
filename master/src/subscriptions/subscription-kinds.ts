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
  /** The request fields of this kind (`projects`, `pattern`, `repo`…): other kinds' requests may not use them. */
  fields: readonly string[];
  /** Whether it follows the index's change log (its existence makes `--follow` auto poll the index). */
  followsIndex: boolean;
  /** Checks the kind's fields of a create request; returns the spec to store. Throws SubscriptionInvalidError. */
  parseSpec(request: Record<string, unknown>): Record<string, unknown>;
  /** How it follows the index's change log, from a stored spec; null: it does not (e.g. git). */
  indexMatcher(spec: Record<string, unknown>): IndexMatcher | null;
}

const MAX_PROJECTS = 1000;

const kinds = new Map<string, SubscriptionKindDefinition>([
  ['all', {
    describe: 'every upload to the index',
    fields: [],
    followsIndex: true,
    parseSpec: () => ({}),
    indexMatcher: () => ({ kind: 'names', test: () => true }),
  }],
  ['projects', {
    describe: 'uploads of the listed projects',
    fields: ['projects'],
    followsIndex: true,
    parseSpec: (r) => {
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
    fields: ['pattern'],
    followsIndex: true,
    parseSpec: (r) => {
      if (typeof r.pattern !== 'string' || !NAME_GLOB.test(r.pattern)) throw new SubscriptionInvalidError('pattern', 'must be a glob of name characters, * and ? (1-200 characters)');
      return { pattern: normalizeGlob(r.pattern) };
    },
    indexMatcher: (spec) => ({ kind: 'names', test: globMatcher(String(spec.pattern ?? '')) }),
  }],
  ['new-projects', {
    describe: 'the first release of every project created on the index',
    fields: [],
    followsIndex: true,
    parseSpec: () => ({}),
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

/** Every kind's request fields: field → the kinds it belongs to. */
export function kindFields(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [kind, def] of kinds) for (const f of def.fields) out.set(f, [...(out.get(f) ?? []), kind]);
  return out;
}
