/**
 * `pyti master [--data DIR] [--host H] [--port N] [--slave-token name:token]... [--lease-ms N]
 * [--heartbeat-ms N] [--max-wait-ms N] [--max-attempts N] [--default-backend B] [--max-upload-bytes N]
 * [--public-read] [--index-url URL] [--follow | --no-follow] [--poll-ms N] [--rss-poll-ms N] [--git-poll-ms N] [--feed changelog|simple|both] [--simple-poll-ms N]`: starts the master, prints where it listens and where its tokens are, and runs
 * until SIGTERM or SIGINT, which close it gracefully (in-flight requests finish, long-polls are
 * answered, the database is closed). `pyti master rescore …` and `pyti master gc …` (retention/gc-command.ts)
 * are subcommands on the same data directory.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PytiError } from '@pyti/vm-agent';
import { TOKENS_FILE } from '../auth.js';
import { loadMasterConfig } from '../config.js';
import { buildMasterApp } from '../http/master-app.js';
import { redactUrl } from '../db/pg-store.js';
import { describeRetention } from '../retention/retention-config.js';
import { describeHolder, lockDataDir, type DataDirLock } from './data-dir-lock.js';

export const MASTER_COMMAND_USAGE = `usage: pyti master [--data DIR] [--database postgres://…] [--blob-dir DIR] [--host H] [--port N] [--slave-token name:token]...
                   [--lease-ms N] [--heartbeat-ms N] [--max-wait-ms N] [--max-attempts N] [--max-infra-retries N]
                   [--default-backend B] [--max-upload-bytes N] [--public-read]
                   [--index-url URL] [--files-host ORIGIN]... [--follow | --no-follow] [--poll-ms N] [--rss-poll-ms N] [--git-poll-ms N]
                   [--feed changelog|simple|both] [--simple-poll-ms N]
                   [--observations-token T] [--allowed-host NAME[:PORT]]...
                   [--request-timeout-ms N] [--idle-timeout-ms N] [--keep-alive-timeout-ms N]
                   [--public-url URL]
                   [--smtp-host H --smtp-from A --smtp-to A,B [--smtp-port N] [--smtp-starttls] [--smtp-user U] [--email-on EVENTS]]
                   [--retention-max-age DUR] [--retention-max-bytes SIZE] [--gc-grace DUR] [--gc-interval DUR] [--retention-prune-flagged]
       pyti master rescore [--data DIR] [--database URL] [--blob-dir DIR]   re-judge every stored audit with the current rules (master stopped)
       pyti master gc [--data DIR] [--dry-run] [--list] [--json]   delete what the retention policy lets go (pyti master gc --help)
subscriptions (pyti subscribe): --index-url is the index followed (default https://pypi.org);
  --follow polls it from start-up, --no-follow never, default: once a subscription exists;
  --poll-ms between change-log polls (default 60000), --rss-poll-ms between RSS polls (default 15000, 0: off);
  --git-poll-ms between fetches of the git subscriptions' branches (default 60000);
  --feed how the index is followed: changelog (XML-RPC, default), simple (the PEP 691 /simple/ root and pages only,
  no XML-RPC) or both (the change log and a /simple/ reconciliation pass); --simple-poll-ms between /simple/ passes
  (default 60000 for simple, 600000 for both)
index traffic goes only to --index-url's origin and its files hosts (--files-host, repeatable: a host or
  an http(s) origin; default files.pythonhosted.org for pypi.org): other redirects and file URLs are refused
  (PYTI_INDEX_HOST_REFUSED), as are hosts resolving to loopback, link-local or private addresses
  (allowed for the index's own host and for a files host given as that address)
reporting: --observations-token T reports each malicious verdict once per file to --index-url's
  observations API (POST /danger-api/projects/NAME/observations, kind is_malware); without it nothing is sent
http: --allowed-host adds a name the master answers to (default: --host, localhost, 127.0.0.1, ::1; '*': any);
  other Host headers get 421 PYTI_HOST_NOT_ALLOWED. --request-timeout-ms: a whole request, body included (default 120000);
  --idle-timeout-ms: an idle connection (default --max-wait-ms + 30000); --keep-alive-timeout-ms (default 5000)
notifications: --public-url is the master's address in links (default http://HOST:PORT); e-mail goes through
  --smtp-host (port 25, or 587 with --smtp-starttls which then is required) from --smtp-from to --smtp-to on
  --email-on events (completed,flagged,regression or all; default flagged,regression); the password of
  --smtp-user is read from PYTI_SMTP_PASSWORD; webhooks: pyti webhook, feeds: GET /api/v1/feed-token
retention: --retention-max-age (30d) and --retention-max-bytes (50G) let gc delete the distributions and raw data of
  finished audits (reports stay); --gc-interval (6h) collects in the running master (default: off; pyti master gc);
  --gc-grace (default 1h) protects what was just written; the data of audits judged malicious or suspicious
  is kept (their evidence) unless --retention-prune-flagged
queue: --max-attempts leases a job gets (default 3); --max-infra-retries N: a report with an infrastructure result
  (error:*) is retried on another slave up to N times (default 2, within --max-attempts) before it is stored
lock: one master per --data directory (its master.lock; a second one exits with PYTI_DATA_DIR_LOCKED naming the holder)
store: SQLite in --data by default; --database postgres://USER@HOST/DB keeps it in PostgreSQL, where several masters
  (each with its own --data) may share one database (jobs leased once, each feed followed by one master); give them one
  --blob-dir (shared directory)
environment: PYTI_MASTER_DATA (data directory), PYTI_DATABASE_URL, PYTI_BLOB_DIR, PYTI_USER_TOKEN, PYTI_SLAVE_TOKENS (name:token,…), PYTI_INDEX_URL,
  PYTI_OBSERVATIONS_TOKEN, PYTI_PUBLIC_URL, PYTI_SMTP_PASSWORD, PYTI_RETENTION_MAX_AGE, PYTI_RETENTION_MAX_BYTES, PYTI_GC_GRACE, PYTI_GC_INTERVAL,
  PYTI_RETENTION_PRUNE_FLAGGED`;

export interface MasterCommandIO {
  out(s: string): void;
  err(s: string): void;
}

/** Runs `pyti master …` (args after `master`); resolves to the exit code once the master has stopped. */
export async function runMasterCommand(args: string[], io: MasterCommandIO, opts: { stop?: AbortSignal } = {}): Promise<number> {
  if (args[0] === 'rescore' || args[0] === 'gc') {
    try {
      if (args[0] === 'gc') return await (await import('../retention/gc-command.js')).runGcCommand(args.slice(1), io);
      const { runRescoreCommand } = await import('../rescore/rescore-command.js');
      return await runRescoreCommand(args.slice(1), io);
    } catch (err) {
      const code = String((err as { code?: unknown }).code ?? '');
      const usage = code.startsWith('ERR_PARSE_ARGS_');
      io.err(`pyti: error ${err instanceof PytiError ? err.code : usage ? 'PYTI_USAGE' : 'internal'}: ${(err as Error).message}\n`);
      return usage || code === 'PYTI_CONFIG_INVALID' ? 64 : 2;
    }
  }
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        data: { type: 'string' }, database: { type: 'string' }, 'blob-dir': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
        'slave-token': { type: 'string', multiple: true }, 'lease-ms': { type: 'string' }, 'heartbeat-ms': { type: 'string' },
        'max-wait-ms': { type: 'string' }, 'max-attempts': { type: 'string' }, 'max-infra-retries': { type: 'string' }, 'default-backend': { type: 'string' },
        'max-upload-bytes': { type: 'string' }, 'public-read': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        'index-url': { type: 'string' }, follow: { type: 'boolean' }, 'no-follow': { type: 'boolean' }, 'poll-ms': { type: 'string' },
        'rss-poll-ms': { type: 'string' }, 'git-poll-ms': { type: 'string' }, 'observations-token': { type: 'string' },
        feed: { type: 'string' }, 'simple-poll-ms': { type: 'string' },
        'allowed-host': { type: 'string', multiple: true }, 'request-timeout-ms': { type: 'string' }, 'idle-timeout-ms': { type: 'string' },
        'keep-alive-timeout-ms': { type: 'string' }, 'files-host': { type: 'string', multiple: true },
        'public-url': { type: 'string' }, 'smtp-host': { type: 'string' }, 'smtp-port': { type: 'string' }, 'smtp-starttls': { type: 'boolean' },
        'smtp-from': { type: 'string' }, 'smtp-to': { type: 'string' }, 'smtp-user': { type: 'string' }, 'email-on': { type: 'string' },
        'retention-max-age': { type: 'string' }, 'retention-max-bytes': { type: 'string' }, 'gc-grace': { type: 'string' }, 'gc-interval': { type: 'string' },
        'retention-prune-flagged': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`pyti: error PYTI_USAGE: ${(err as Error).message}\n${MASTER_COMMAND_USAGE}\n`);
    return 64;
  }
  if (values.help) {
    io.out(`${MASTER_COMMAND_USAGE}\n`);
    return 0;
  }
  if (values.follow && values['no-follow']) {
    io.err(`pyti: error PYTI_USAGE: --follow and --no-follow contradict each other\n${MASTER_COMMAND_USAGE}\n`);
    return 64;
  }
  let master;
  let lock: DataDirLock | null = null;
  try {
    const config = loadMasterConfig({
      data: values.data, database: values.database, blobDir: values['blob-dir'], host: values.host, port: values.port, slaveToken: values['slave-token'], leaseMs: values['lease-ms'],
      heartbeatMs: values['heartbeat-ms'], maxWaitMs: values['max-wait-ms'], maxAttempts: values['max-attempts'], maxInfraRetries: values['max-infra-retries'],
      defaultBackend: values['default-backend'], maxUploadBytes: values['max-upload-bytes'], publicRead: values['public-read'],
      indexUrl: values['index-url'], follow: values.follow ? true : values['no-follow'] ? false : undefined,
      pollMs: values['poll-ms'], rssPollMs: values['rss-poll-ms'], gitPollMs: values['git-poll-ms'],
      feed: values.feed, simplePollMs: values['simple-poll-ms'],
      observationsToken: values['observations-token'],
      allowedHost: values['allowed-host'], requestTimeoutMs: values['request-timeout-ms'], idleTimeoutMs: values['idle-timeout-ms'],
      keepAliveTimeoutMs: values['keep-alive-timeout-ms'], filesHost: values['files-host'],
      publicUrl: values['public-url'], smtpHost: values['smtp-host'], smtpPort: values['smtp-port'], smtpStarttls: values['smtp-starttls'],
      smtpFrom: values['smtp-from'], smtpTo: values['smtp-to'], smtpUser: values['smtp-user'], emailOn: values['email-on'],
      retentionMaxAge: values['retention-max-age'], retentionMaxBytes: values['retention-max-bytes'], gcGrace: values['gc-grace'], gcInterval: values['gc-interval'],
      retentionPruneFlagged: values['retention-prune-flagged'],
    }, process.env);
    // One master per SQLite data directory (PYTI_DATA_DIR_LOCKED names the holder); a dead holder's lock is taken over.
    lock = await lockDataDir(config.dataDir, 'pyti master');
    if (lock.tookOverFrom) io.err(`pyti master: took over the lock of ${config.dataDir} from ${describeHolder(lock.tookOverFrom)}, which did not release it\n`);
    master = await buildMasterApp(config, { onError: (err) => io.err(`pyti master: internal error: ${(err as Error)?.stack ?? String(err)}\n`) });
    let url: string;
    try {
      url = await master.listen();
    } catch (err) {
      await master.close();
      throw err;
    }
    io.out(`pyti master listening on ${url}\n`);
    io.out(`data: ${config.dataDir} (locked: ${lock.path}, one master at a time)\n`);
    if (config.database) io.out(`database: ${redactUrl(config.database)} (PostgreSQL)\n`);
    io.out(`blobs: ${config.blobDir}\n`);
    io.out(`tokens: ${join(config.dataDir, TOKENS_FILE)} (the user token and the slave tokens; slaves: ${Object.keys(master.tokens.slaves).join(', ')})\n`);
    if (config.publicRead) io.out('reads are public (--public-read)\n');
    io.out(`hosts: ${config.allowedHosts.join(', ')} (--allowed-host)\n`);
    const via = config.feed === 'simple' ? ' through /simple/ (PEP 691, no XML-RPC)' : config.feed === 'both' ? ' (change log, and a /simple/ reconciliation pass)' : '';
    const following = master.subscriptions.follower.following || (master.subscriptions.simple?.following ?? false);
    const filesHosts = config.fetchPolicy.origins.slice(1);
    io.out(`index: ${config.indexUrl}${filesHosts.length ? `, files from ${filesHosts.join(', ')}` : ''} (${following ? (via ? `following it${via}` : 'following its change log') : config.follow === false ? 'not followed: --no-follow' : `followed${via} once a subscription exists`})\n`);
    io.out(`e-mail: ${config.notify.smtp ? `${config.notify.smtp.events.join(', ')} to ${config.notify.smtp.to.join(', ')} via ${config.notify.smtp.host}:${config.notify.smtp.port}` : 'off (no --smtp-host)'}; links to ${master.notifications.publicUrl}\n`);
    io.out(`retention: ${describeRetention(config.retention)}\n`);
    io.out(`observations: ${config.observationsToken ? `malicious verdicts are reported to ${config.indexUrl}/danger-api/` : 'not reported (no --observations-token)'}\n`);
  } catch (err) {
    await lock?.release();
    if (err instanceof PytiError) {
      io.err(`pyti: error ${err.code}: ${err.message}\n`);
      return err.code === 'PYTI_CONFIG_INVALID' ? 64 : 2;
    }
    io.err(`pyti: error: cannot start the master: ${(err as Error).message}\n`);
    return 2;
  }
  const running = master;
  let exitCode = 0;
  await new Promise<void>((resolve) => {
    let stopped = false;
    const stop = (why: string) => {
      if (stopped) return;
      stopped = true;
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      io.err(`pyti master: ${why}; closing\n`);
      resolve();
    };
    // A lost lock (its holder process ended) would let a second master share the directory: stop.
    void lock!.lost.then((why) => {
      if (stopped) return;
      exitCode = 2;
      io.err(`pyti: error PYTI_DATA_DIR_LOCKED: lost the data directory lock: ${why}; stopping so that no second master shares ${lock!.path}\n`);
      stop('lost the data directory lock');
    });
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    if (opts.stop?.aborted) stop('stopped');
    opts.stop?.addEventListener('abort', () => stop('stopped'), { once: true });
  });
  await running.close();
  await lock?.release();
  io.err('pyti master: closed\n');
  return exitCode;
}
