/**
 * `pyti diff A B [--json]` (two audit ids) or `pyti diff NAME VER1 VER2 [--json]` (the newest finished
 * audits of two versions of a project): what changed from the first to the second — findings,
 * network and DNS targets, sinkhole traffic, files written outside the install, commands,
 * dependencies, tests, coverage and lint. Exit 0 when the diff was shown, 2 when it could not be
 * (an unknown audit or version, an audit without a report), 64 on usage errors.
 */
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, UsageError, clientFor, type CliIO } from './cli-io.js';
import { diffText } from './diff-format.js';
import { cleanDeep } from './terminal-text.js';

export async function diffCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...CONNECTION_OPTIONS, json: { type: 'boolean', default: false } } });
  if (positionals.length !== 2 && positionals.length !== 3) throw new UsageError('diff takes two audit ids, or a project name and two of its versions');
  const client = clientFor(values, io, false);
  const [a, b, c] = positionals as [string, string, string | undefined];
  const d = c === undefined ? await client.diff(a, b) : await client.diff(b, c, a);
  io.out(values.json ? `${JSON.stringify(d, null, 1)}\n` : `${diffText(cleanDeep(d), io.isTTY)}\n`);
  return 0;
}
