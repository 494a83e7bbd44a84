/**
 * `pyti slave --master URL --token T [--name N] [--backend bwrap|qemu|libvirt]... [--concurrency N]
 * [--index-url URL] [--files-host ORIGIN]... [--data DIR] [--perf] [--wheel-cache-max SIZE|none] [--wheel-cache-max-age DUR] [--vm-pool N]`
 * (environment: PYTI_MASTER_URL, PYTI_SLAVE_TOKEN, PYTI_INDEX_URL, PYTI_SLAVE_DATA, PYTI_WHEEL_CACHE_MAX,
 * PYTI_WHEEL_CACHE_MAX_AGE, PYTI_VM_POOL). `--vm-pool N`: guests each VM backend keeps restored and
 * waiting (default: one per job slot, within a quarter of the host's memory at 512 MiB each). The wheel cache is pruned at start and between jobs (default: at most 10G). Progress lines go to stderr as `[time] …`. SIGTERM and SIGINT drain the slave
 * (running jobs finish, nothing new is leased) and it exits 0; a second signal exits at once (130/143).
 */
import { parseArgs } from 'node:util';
import { loadSlaveConfig } from './slave-config.js';
import { runSlave } from './slave-daemon.js';

/** Runs the `slave` subcommand; `err` receives the progress lines. Resolves to the exit code. */
export async function slaveCommand(args: string[], err: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      master: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      backend: { type: 'string', multiple: true },
      concurrency: { type: 'string' },
      'index-url': { type: 'string' },
      'files-host': { type: 'string', multiple: true },
      data: { type: 'string' },
      perf: { type: 'boolean' },
      'wheel-cache-max': { type: 'string' },
      'wheel-cache-max-age': { type: 'string' },
      'vm-pool': { type: 'string' },
    },
  });
  const config = loadSlaveConfig({
    master: values.master, token: values.token, name: values.name, backend: values.backend,
    concurrency: values.concurrency, indexUrl: values['index-url'], filesHost: values['files-host'], data: values.data, perf: values.perf,
    wheelCacheMax: values['wheel-cache-max'], wheelCacheMaxAge: values['wheel-cache-max-age'], vmPool: values['vm-pool'],
  });
  const drain = new AbortController();
  const handlers: [NodeJS.Signals, number][] = [['SIGTERM', 143], ['SIGINT', 130]];
  const listeners = handlers.map(([sig, code]) => {
    const fn = (): void => {
      if (drain.signal.aborted) {
        err(`pyti slave: ${sig} again: exiting now\n`);
        process.exit(code);
      }
      err(`pyti slave: ${sig}: draining (send it again to exit at once)\n`);
      drain.abort();
    };
    process.on(sig, fn);
    return [sig, fn] as const;
  });
  try {
    return await runSlave(config, { log: (line) => err(`[${new Date().toISOString()}] ${line}\n`), drain: drain.signal });
  } finally {
    for (const [sig, fn] of listeners) process.off(sig, fn);
  }
}
