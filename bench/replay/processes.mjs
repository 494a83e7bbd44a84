// The replay's processes: the test index (test/src/index-server, its own process), a real `pyti
// master` (its own process, SQLite in a data directory by default, or `--database URL`), and, on
// request, a throwaway PostgreSQL server (Debian's postgresql-15, run as the `postgres` user: it
// refuses root) in a temporary directory, stopped and removed afterwards.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestChild, freePort } from '../../test/dist/child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Starts the test index on a free port serving `files` (paths) from the start; resolves to { child, url }. */
export async function startIndex(files = [], logEcho = false) {
  const child = new TestChild('index', process.execPath, [join(ROOT, 'test/dist/index-server/main.js'), '--port', String(await freePort()), '--serial-base', '100000', ...files], { echo: logEcho });
  const url = JSON.parse((await child.waitForLine(/^\{"url".*$/, 30_000))[0]).url;
  return { child, url };
}

/**
 * Starts `pyti master` on a free port following `indexUrl`, with `slaveTokens` ("name:token,…")
 * and the user token; `extra` are more flags (--database, --poll-ms, …); `pyti` the CLI to run (default:
 * this checkout's bin/pyti.mjs). Resolves to { child, url }.
 */
export async function startMaster({ dataDir, indexUrl, userToken, slaveTokens, extra = [], echo = false, pyti = join(ROOT, 'bin/pyti.mjs') }) {
  const port = await freePort();
  const child = new TestChild('master', process.execPath, [
    pyti, 'master', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port), '--index-url', indexUrl, ...extra,
  ], { env: { PYTI_USER_TOKEN: userToken, PYTI_SLAVE_TOKENS: slaveTokens }, echo });
  await child.waitForLine(/pyti master listening on/, 60_000);
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Whether this machine can run a throwaway PostgreSQL (the binaries and the `postgres` user). */
export function postgresAvailable() {
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(join(PG_BIN, 'pg_ctl'))) return `no ${PG_BIN}/initdb (apt-get install postgresql-15)`;
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres user';
  }
  return null;
}

/**
 * initdb + pg_ctl start of a PostgreSQL server in a new temporary directory owned by `postgres`,
 * listening on 127.0.0.1 at a free port, trust authentication (loopback only). Resolves to
 * { url, stop() }; stop() stops it and removes the directory.
 */
export async function startPostgres() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pyti-replay-pg-'));
  const data = join(dir, 'pgdata');
  mkdirSync(data, { recursive: true });
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(dir, uid, gid);
  chownSync(data, uid, gid);
  chmodSync(data, 0o700);
  const asPg = (cmd, args) => execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  try {
    asPg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${err.stderr?.toString().trim() || err.message}`);
  }
  asPg('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-o', `-p ${port} -h 127.0.0.1 -k ${dir} -c max_connections=300`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try { asPg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']); } catch { /* already stopped */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
