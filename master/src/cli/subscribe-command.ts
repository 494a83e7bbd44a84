/**
 * `pyti subscribe add|list|show|pause|resume|set|remove`: subscriptions to the index's uploads and to
 * git repositories, through the master's user API.
 *
 *   pyti subscribe add NAME (--all | --project P... | --pattern GLOB | --new-projects | --git REPO --branch B)
 *                  [--priority N] [--backend B] [--backlog N [--on-backlog drop-oldest|pause]] [--json]
 *   pyti subscribe list [--json]
 *   pyti subscribe show NAME [--audits N] [--json]       definition, counts, the feed's cursor and lag
 *   pyti subscribe pause|resume|remove NAME [--json]
 *   pyti subscribe set NAME [--priority N] [--backend B|default] [--backlog N|none] [--on-backlog P] [--json]
 *
 * The kinds `add` knows are a table (`SUBSCRIBE_KIND_FLAGS`) other kinds extend.
 */
import { parseArgs } from 'node:util';
import type { BacklogPolicy, SubscriptionCreateRequest, SubscriptionUpdateRequest } from '../user-api.js';
import { CONNECTION_OPTIONS, UsageError, clientFor, intFlag, type CliIO } from './cli-io.js';
import { subscriptionDetail, subscriptionTable } from './subscribe-format.js';
import { clean } from './terminal-text.js';

type Values = Record<string, string | boolean | string[] | undefined>;

/** One way to say which kind `add` creates: its flag(s) and how they become request fields. */
export interface SubscribeKindFlag {
  kind: string;
  /** parseArgs options; the first one is the flag that picks this kind. */
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  /** The kind's request fields from the parsed values. */
  fields(values: Values): Partial<SubscriptionCreateRequest> & Record<string, unknown>;
}

/** The kinds `pyti subscribe add` knows (extend with push). */
export const SUBSCRIBE_KIND_FLAGS: SubscribeKindFlag[] = [
  { kind: 'all', options: { all: { type: 'boolean' } }, fields: () => ({}) },
  { kind: 'projects', options: { project: { type: 'string', multiple: true } }, fields: (v) => ({ projects: (v.project as string[]).flatMap((p) => p.split(',')).filter(Boolean) }) },
  { kind: 'pattern', options: { pattern: { type: 'string' } }, fields: (v) => ({ pattern: v.pattern as string }) },
  { kind: 'new-projects', options: { 'new-projects': { type: 'boolean' } }, fields: () => ({}) },
  {
    kind: 'git', options: { git: { type: 'string' }, branch: { type: 'string' } },
    fields: (v) => {
      if (v.branch === undefined) throw new UsageError('--git REPO needs --branch BRANCH');
      return { repo: v.git as string, branch: v.branch as string };
    },
  },
];

export const SUBSCRIBE_USAGE = `usage:
  pyti subscribe add NAME (--all | --project P... | --pattern GLOB | --new-projects | --git REPO --branch BRANCH)
                 [--priority N] [--backend B] [--backlog N [--on-backlog drop-oldest|pause]] [--json]
  pyti subscribe list [--json]
  pyti subscribe show NAME [--audits N] [--json]
  pyti subscribe pause|resume|remove NAME [--json]
  pyti subscribe set NAME [--priority N] [--backend B|default] [--backlog N|none] [--on-backlog drop-oldest|pause] [--json]
  common: --master URL (PYTI_MASTER_URL) --token T (PYTI_TOKEN)
A subscription follows the index's uploads from the moment it is added; the master polls the index's
change log (pyti master --index-url, --poll-ms) and audits the sdist and a pure-Python wheel of each release.
--git follows a branch of a git repository (an absolute path or a file://, https://, http://, ssh://, git://
URL, or user@host:path): its head is audited at once, then every new commit (pyti master --git-poll-ms),
each built into an sdist offline in the slave's sandbox; find a commit's audits with pyti status --commit.`;

const BACKEND = /^[a-z][a-z0-9-]{0,31}$/;
const POLICIES: readonly BacklogPolicy[] = ['drop-oldest', 'pause'];

const COMMON = {
  ...CONNECTION_OPTIONS,
  json: { type: 'boolean', default: false },
  priority: { type: 'string' }, backend: { type: 'string' }, backlog: { type: 'string' }, 'on-backlog': { type: 'string' },
} as const;

function policyFlag(v: unknown): BacklogPolicy | undefined {
  if (v === undefined) return undefined;
  if (!POLICIES.includes(v as BacklogPolicy)) throw new UsageError(`--on-backlog takes ${POLICIES.join(' or ')}`);
  return v as BacklogPolicy;
}

function oneName(positionals: string[], verb: string): string {
  if (positionals.length !== 1) throw new UsageError(`subscribe ${verb} takes exactly one subscription name`);
  return positionals[0]!;
}

/** Runs `pyti subscribe …` (args after `subscribe`); resolves to the exit code. */
export async function subscribeCommand(args: string[], io: CliIO): Promise<number> {
  const [verb, ...rest] = args;
  const kindOptions = Object.assign({}, ...SUBSCRIBE_KIND_FLAGS.map((k) => k.options)) as Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true, strict: true,
    options: { ...COMMON, ...(verb === 'add' ? kindOptions : {}), ...(verb === 'show' ? { audits: { type: 'string' } } : {}) },
  });
  const v = values as Values;
  const print = (json: unknown, text: string) => io.out(v.json ? `${JSON.stringify(json, null, 1)}\n` : `${text}\n`);
  if (verb !== 'add' && verb !== 'set' && (v.priority !== undefined || v.backend !== undefined || v.backlog !== undefined || v['on-backlog'] !== undefined)) {
    throw new UsageError(`--priority, --backend, --backlog and --on-backlog go with subscribe add or set, not ${verb ?? 'nothing'}`);
  }
  switch (verb) {
    case 'add': {
      const name = oneName(positionals, 'add');
      const picked = SUBSCRIBE_KIND_FLAGS.filter((k) => v[Object.keys(k.options)[0]!] !== undefined);
      if (picked.length !== 1) throw new UsageError(`subscribe add takes one of ${SUBSCRIBE_KIND_FLAGS.map((k) => `--${Object.keys(k.options)[0]}`).join(', ')}`);
      const kind = picked[0]!;
      for (const other of SUBSCRIBE_KIND_FLAGS) {
        if (other === kind) continue;
        const stray = Object.keys(other.options).find((o) => v[o] !== undefined);
        if (stray) throw new UsageError(`--${stray} goes with --${Object.keys(other.options)[0]}, not --${Object.keys(kind.options)[0]}`);
      }
      if (v.backend !== undefined && !BACKEND.test(v.backend as string)) throw new UsageError(`--backend ${JSON.stringify(v.backend)} is not a backend name`);
      const backlog = intFlag('--backlog', v.backlog as string | undefined, 1, 1_000_000);
      const onBacklog = policyFlag(v['on-backlog']);
      if (onBacklog !== undefined && backlog === undefined) throw new UsageError('--on-backlog needs --backlog N');
      const req: SubscriptionCreateRequest = {
        name, kind: kind.kind, ...kind.fields(v),
        ...(v.priority !== undefined ? { priority: intFlag('--priority', v.priority as string, -100, 100) } : {}),
        ...(v.backend !== undefined ? { backend: v.backend as string } : {}),
        ...(backlog !== undefined ? { backlog } : {}),
        ...(onBacklog !== undefined ? { onBacklog } : {}),
      };
      const s = await clientFor(v as { master?: string; token?: string }, io, true).subscribe(req);
      print(s, `subscribed ${clean(s.name)}: ${subscriptionTable([s]).split('\n')[1]}`);
      return 0;
    }
    case 'list': {
      if (positionals.length) throw new UsageError('subscribe list takes no names');
      const subs = await clientFor(v as { master?: string; token?: string }, io, false).subscriptions();
      print(subs, subscriptionTable(subs));
      return 0;
    }
    case 'show': {
      const name = oneName(positionals, 'show');
      const n = intFlag('--audits', v.audits as string | undefined, 0, 1000) ?? 10;
      const client = clientFor(v as { master?: string; token?: string }, io, false);
      const s = await client.subscription(name);
      const [feed, audits] = await Promise.all([s.git ? null : client.feed(), n > 0 ? client.subscriptionAudits(name, n) : Promise.resolve([])]);
      print({ subscription: s, feed, audits }, subscriptionDetail(s, feed, audits));
      return 0;
    }
    case 'pause':
    case 'resume': {
      const name = oneName(positionals, verb);
      const s = await clientFor(v as { master?: string; token?: string }, io, true).updateSubscription(name, { paused: verb === 'pause' });
      print(s, `${clean(s.name)}: ${s.paused ? 'paused' : 'resumed'}`);
      return 0;
    }
    case 'set': {
      const name = oneName(positionals, 'set');
      const change: SubscriptionUpdateRequest = {};
      if (v.priority !== undefined) change.priority = intFlag('--priority', v.priority as string, -100, 100);
      if (v.backend !== undefined) {
        if (v.backend !== 'default' && !BACKEND.test(v.backend as string)) throw new UsageError(`--backend ${JSON.stringify(v.backend)} is not a backend name`);
        change.backend = v.backend === 'default' ? null : v.backend as string;
      }
      if (v.backlog !== undefined) change.backlog = v.backlog === 'none' ? null : intFlag('--backlog', v.backlog as string, 1, 1_000_000)!;
      if (v['on-backlog'] !== undefined) change.onBacklog = policyFlag(v['on-backlog']);
      if (Object.keys(change).length === 0) throw new UsageError('subscribe set needs --priority, --backend, --backlog or --on-backlog');
      const s = await clientFor(v as { master?: string; token?: string }, io, true).updateSubscription(name, change);
      print(s, subscriptionTable([s]));
      return 0;
    }
    case 'remove': {
      const name = oneName(positionals, 'remove');
      const r = await clientFor(v as { master?: string; token?: string }, io, true).unsubscribe(name);
      print(r, `removed ${clean(r.removed.name)}; ${r.cancelled} queued audit${r.cancelled === 1 ? '' : 's'} cancelled`);
      return 0;
    }
    default:
      throw new UsageError(verb === undefined ? 'subscribe needs add, list, show, pause, resume, set or remove' : `unknown subscribe command ${JSON.stringify(verb)}`);
  }
}
