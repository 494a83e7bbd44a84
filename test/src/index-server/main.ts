/**
 * The test index as a process, for tests that run it beside a master and slaves:
 *
 *   node test/dist/index-server/main.js [--host H] [--port N] [--corrupt FILENAME]... [--missing FILENAME]...
 *        [--serial-base N] [--changelog-page-size N] [--rss-items N] FILE...
 *
 * Prints one JSON line `{"url": "http://127.0.0.1:PORT", "lastSerial": N}` on stdout once listening,
 * logs each request to stderr (`GET /simple/foo/ 200`) and exits 0 on SIGTERM or SIGINT. Exit 64 on
 * a usage error, 2 when a file cannot be served. Tests change it while it runs through the test-only
 * endpoints (`POST /-/publish`, `/-/yank`, …, `/-/faults`; admin-api.ts).
 */
import { startIndexServer, type IndexServerOptions } from './index-server.js';

const USAGE = 'usage: index-server [--host H] [--port N] [--corrupt FILENAME]... [--missing FILENAME]... [--serial-base N] [--changelog-page-size N] [--rss-items N] FILE...';

function parseArgs(argv: string[]): IndexServerOptions {
  const opts: IndexServerOptions & { corrupt: string[]; missing: string[] } = { files: [], corrupt: [], missing: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = (): number => {
      const v = value();
      if (!/^[1-9]\d{0,14}$/.test(v)) throw new Error(`${a} ${v}: not a positive integer`);
      return Number(v);
    };
    if (a === '--port') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error(`--port ${v}: not a port number`);
      opts.port = Number(v);
    } else if (a === '--serial-base') opts.serialBase = count();
    else if (a === '--changelog-page-size') opts.changelogPageSize = count();
    else if (a === '--rss-items') opts.rssItems = count();
    else if (a === '--host') opts.host = value();
    else if (a === '--corrupt') opts.corrupt.push(value());
    else if (a === '--missing') opts.missing.push(value());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else opts.files.push(a);
  }
  return opts;
}

async function main(): Promise<void> {
  let opts: IndexServerOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`index-server: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(64);
  }
  let server;
  try {
    server = await startIndexServer({ ...opts, onRequest: (r) => process.stderr.write(`${r.method} ${r.path} ${r.status}\n`) });
  } catch (err) {
    process.stderr.write(`index-server: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const stop = (): void => {
    server.close().then(() => process.exit(0), () => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ url: server.url, lastSerial: server.lastSerial() })}\n`);
}

void main();
