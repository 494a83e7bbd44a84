/**
 * The master-side `pyti` commands:
 *   pyti master [options]          run the master (see `pyti master --help`)
 *   pyti submit <file.tar.gz|file.whl> | <name>==<version> [--priority N] [--backend B] [--filename F] [--force] [--wait] [--json]
 *   pyti submit --zip FILE.zip | --git URL --ref REF [--priority N] [--backend B] [--wait] [--json]
 *   pyti status [ID] [--state S] [--limit N] [--commit HEX] [--json]
 *   pyti report ID [--json | --html] [--out DIR]
 *   pyti diff A B | NAME VER1 VER2 [--json]
 *   pyti subscribe add|list|show|pause|resume|set|remove …   (see subscribe-command.ts)
 *   pyti webhook add|list|remove|deliveries …                (see webhook-command.ts)
 * Each takes --master URL and --token T (or PYTI_MASTER_URL, PYTI_TOKEN; default URL http://127.0.0.1:8470).
 * Exit codes: 0 clean (or done); 1 failed; 2 could not submit, no report, error or cancelled; 3 suspicious; 4 malicious; 64 usage;
 * 69 the master failed on its side (HTTP 5xx: PYTI_STORAGE_FULL, PYTI_MASTER_INTERNAL; try again later).
 */
import { PytiError } from '@pyti/vm-agent';
import { UsageError, defaultIO, type CliIO } from './cli-io.js';
import { submitCommand } from './submit-command.js';
import { statusCommand } from './status-command.js';
import { reportCommand } from './report-command.js';
import { subscribeCommand } from './subscribe-command.js';
import { webhookCommand } from './webhook-command.js';
import { diffCommand } from './diff-command.js';

export type { CliIO } from './cli-io.js';

export const MASTER_USAGE = `usage:
  pyti master [options]                       run the master (pyti master --help)
  pyti master gc [--dry-run] [--list] [--json]  delete old blobs by the retention policy (pyti master gc --help)
  pyti submit <file.tar.gz|file.whl> | <name>==<version> [--priority N] [--backend B] [--filename F] [--force] [--wait] [--json]
  pyti submit --zip FILE.zip | --git URL --ref REF [--priority N] [--backend B] [--wait] [--json]
  pyti status [ID] [--state queued|running|done|error|cancelled] [--verdict V] [--result R] [--project P] [--search TEXT]
              [--subscription S] [--rule RULE] [--backend B] [--slave S] [--since DATE] [--until DATE]
              [--limit N] [--offset N] [--commit HEX] [--json]
  pyti report ID [--json | --html] [--out DIR]
  pyti diff A B | NAME VER1 VER2 [--json]          what changed between two audits (ids) or two versions of a project
  pyti subscribe add NAME (--all | --project P... | --pattern GLOB | --new-projects | --git REPO --branch BRANCH)
                 [--priority N] [--backend B] [--backlog N [--on-backlog drop-oldest|pause]]
  pyti subscribe list | show NAME | pause NAME | resume NAME | remove NAME
  pyti subscribe set NAME [--priority N] [--backend B|default] [--backlog N|none] [--on-backlog drop-oldest|pause]
  pyti webhook add URL [--subscription NAME] [--on completed,flagged,regression|all] | list | remove ID | deliveries ID [--limit N]
  common: --master URL (PYTI_MASTER_URL, default http://127.0.0.1:8470) --token T (PYTI_TOKEN)

exit codes: 0 clean · 1 failed · 2 could not submit, no report, error or cancelled · 3 suspicious · 4 malicious · 64 usage error ·
  69 the master failed on its side (a full disk, an internal error: try again later)`;

/** Exit status when the master answered with a fault of its own (HTTP 5xx), as sysexits' EX_UNAVAILABLE. */
export const EXIT_SERVER_FAULT = 69;
const SERVER_FAULT_CODES: ReadonlySet<string> = new Set(['PYTI_STORAGE_FULL', 'PYTI_MASTER_INTERNAL']);

/** The commands this module answers (bin/pyti.mjs sends them here). */
export const MASTER_COMMANDS = ['master', 'submit', 'status', 'report', 'subscribe', 'webhook', 'diff'] as const;

/** Runs `pyti master|submit|status|report …` (argv without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === 'master') {
      // Loaded on demand: the server (Fastify, SQLite) is not needed to talk to one.
      const { runMasterCommand } = await import('../server/master-command.js');
      return await runMasterCommand(rest, io);
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(`${MASTER_USAGE}\n`);
      return 0;
    }
    if (cmd === 'submit') return await submitCommand(rest, io);
    if (cmd === 'status') return await statusCommand(rest, io);
    if (cmd === 'report') return await reportCommand(rest, io);
    if (cmd === 'subscribe') return await subscribeCommand(rest, io);
    if (cmd === 'webhook') return await webhookCommand(rest, io);
    if (cmd === 'diff') return await diffCommand(rest, io);
    throw new UsageError(`unknown command ${JSON.stringify(cmd ?? '')}`);
  } catch (err) {
    if (err instanceof PytiError) {
      io.err(`pyti: error ${err.code}: ${err.message}\n`);
      if (err.code === 'PYTI_USAGE' && err instanceof UsageError) {
        io.err(`${MASTER_USAGE}\n`);
        return 64;
      }
      return err.code === 'PYTI_USAGE' ? 64 : SERVER_FAULT_CODES.has(err.code) ? EXIT_SERVER_FAULT : 2;
    }
    // node:util parseArgs errors (checked by code: they may come from another realm under test runners).
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS_')) {
      io.err(`pyti: error PYTI_USAGE: ${(err as Error).message}\n${MASTER_USAGE}\n`);
      return 64;
    }
    io.err(`pyti: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 2;
  }
}
