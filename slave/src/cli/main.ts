/**
 * The `pyti` command line.
 *   pyti audit <sdist|wheel|URL|NAME|NAME==VERSION> [--index-url URL] [--wheelhouse DIR] [--out DIR] [--json] [--backend bwrap|qemu|libvirt] [--parallel N]
 *   pyti rescore <report-dir>…
 *   pyti image build [--force]
 *   pyti image info
 * Exit codes: 0 clean; 1 a package failure, nothing found; 2 could not audit; 3 suspicious; 4 malicious; 64 usage.
 */
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ERROR_CODES, PytiError } from '@pyti/vm-agent';
import { buildBootImage, buildRootfs, cacheRoot, findBootImage, findRootfs } from '@pyti/images';
import { auditDistribution, type AuditOptions, type AuditProgress } from '../audit.js';
import { checkServedDist } from '../daemon/job-runner.js';
import { IndexClient, validateDist, renderTerminal } from '@pyti/common';
import { createJobDir, removeJobDir } from '../job-dir.js';
import { prefetchDependencies } from '../prefetch/prefetch.js';
import { openPrefetchHost } from '../prefetch/prefetch-host.js';
import { fetchAuditTarget, parseAuditTarget, type FetchedTarget } from './audit-target.js';
import { indexConfig } from './index-config.js';
import { BwrapBackend } from '../backends/bwrap.js';
import { QemuBackend } from '../backends/qemu.js';
import { LibvirtBackend } from '../backends/libvirt.js';
import type { Backend } from '../backends/backend.js';
import { slaveCommand } from '../daemon/slave-command.js';
import { rescoreCommand } from './rescore-command.js';

export const USAGE = `usage:
  pyti audit <sdist|wheel|URL|NAME|NAME==VERSION> [--index-url URL] [--wheelhouse DIR] [--out DIR] [--json] [--backend bwrap|qemu|libvirt] [--parallel N] [--quiet] [--perf]
                                              NAME: the latest release; the index: --index-url, PYTI_INDEX_URL, PIP_INDEX_URL, pip.conf, https://pypi.org
  pyti rescore <report-dir>...                re-judge stored reports with the current rules (raw traces, kept dist/)
  pyti image build [--force]
  pyti image info
  pyti slave --master URL --token T [--name N] [--backend bwrap|qemu|libvirt]... [--concurrency N] [--index-url URL] [--files-host ORIGIN]... [--data DIR] [--perf]
             [--wheel-cache-max SIZE|none] [--wheel-cache-max-age DUR]
                                              run a slave: lease jobs, prefetch with pip, audit, report (env PYTI_MASTER_URL, PYTI_SLAVE_TOKEN, PYTI_INDEX_URL, PYTI_SLAVE_DATA);
                                              its wheel cache is pruned at start and between jobs, least recently used first (default max 10G)
  pyti master [options]                       run the master: job queue, command API, user API, web pages
  pyti submit <file.tar.gz|file.whl> | <name>==<version> [--priority N] [--backend B] [--filename F] [--force] [--wait] [--json]
  pyti submit --zip FILE.zip | --git URL --ref REF [--priority N] [--backend B] [--wait] [--json]
  pyti status [ID] [--state S] [--verdict V] [--result R] [--project P] [--search TEXT] [--subscription S] [--rule R]
              [--backend B] [--slave S] [--since DATE] [--until DATE] [--limit N] [--offset N] [--json]
  pyti report ID [--json | --html] [--out DIR]
  pyti subscribe add NAME (--all | --project P... | --pattern GLOB | --new-projects | --git REPO --branch BRANCH) [--priority N] [--backend B] [--backlog N]
  pyti subscribe list | show NAME | pause NAME | resume NAME | set NAME … | remove NAME   (pyti subscribe --help)
  pyti diff A B | NAME VER1 VER2 [--json]     what changed between two audits, or two versions of a project
  pyti webhook add URL [--subscription NAME] [--on completed,flagged,regression|all] | list | remove ID | deliveries ID
  (submit, status, report, subscribe, diff, webhook: --master URL or PYTI_MASTER_URL, --token T or PYTI_TOKEN)

exit codes: 0 clean · 1 a package failure, nothing found · 2 could not audit · 3 suspicious · 4 malicious · 64 usage error ·
  69 the master failed on its side (submit, status, report, …: a full disk, an internal error; try again later)`;

const BACKENDS: Record<string, () => Backend> = {
  bwrap: () => new BwrapBackend(),
  qemu: () => new QemuBackend(),
  libvirt: () => new LibvirtBackend(),
};

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

const defaultIO: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stderr.isTTY),
};

class UsageError extends PytiError {
  constructor(message: string) {
    super('PYTI_USAGE', message);
  }
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  try {
    const [cmd, ...rest] = argv;
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.out(`${USAGE}\n`);
      return cmd ? 0 : 64;
    }
    if (cmd === '--version') {
      io.out('pyti 0.1.0\n');
      return 0;
    }
    if (cmd === 'audit') return await auditCommand(rest, io);
    if (cmd === 'image') return await imageCommand(rest, io);
    if (cmd === 'rescore') return await rescoreCommand(rest, io.out, io.err);
    if (cmd === 'slave') return await slaveCommand(rest, io.err);
    throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  } catch (err) {
    if (err instanceof PytiError) {
      io.err(`pyti: error ${err.code}: ${err.message}\n`);
      if (err.code === 'PYTI_USAGE') {
        io.err(`${USAGE}\n`);
        return 64;
      }
      return 2;
    }
    // node:util parseArgs errors (checked by code: they may come from another realm under test runners).
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS_')) {
      io.err(`pyti: error PYTI_USAGE: ${(err as Error).message}\n${USAGE}\n`);
      return 64;
    }
    io.err(`pyti: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 2;
  }
}

async function auditCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'index-url': { type: 'string' },
      wheelhouse: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'bwrap' },
      parallel: { type: 'string', default: '2' },
      quiet: { type: 'boolean', short: 'q', default: false },
      perf: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError('audit takes exactly one distribution: a file, a URL, NAME or NAME==VERSION');
  const make = BACKENDS[values.backend!];
  if (!make) throw new UsageError(`unknown backend ${JSON.stringify(values.backend)} (available: ${Object.keys(BACKENDS).join(', ')})`);
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 8) throw new UsageError('--parallel takes a whole number from 1 to 8');
  const target = parseAuditTarget(positionals[0]!);
  const t0 = Date.now();
  const say = (s: string): void => {
    if (!values.quiet) io.err(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}\n`);
  };
  const onProgress = (p: AuditProgress): void => {
    switch (p.kind) {
      case 'validated': say(`${p.dist.filename}: ${p.dist.kind} of ${p.dist.name} ${p.dist.version}, ${p.dist.members} members, sha256 ${p.dist.sha256.slice(0, 16)}…`); break;
      case 'sandbox-started': say(`sandbox started (${p.backend})`); break;
      case 'guest-ready': say(`guest ready: Python ${p.python}`); break;
      case 'task-started': say(`${p.id} started`); break;
      case 'task-finished': say(`${p.id} ${p.status}${p.durationMs !== undefined ? ` in ${(p.durationMs / 1000).toFixed(1)}s` : ''}${p.reason ? ` (${p.reason})` : ''}`); break;
      case 'retrying': say(`infrastructure failure, ${p.infraError.kind}: ${p.infraError.message.split('\n')[0]}; retrying on a fresh sandbox (attempt ${p.attempt + 1})`); break;
      case 'report-written': say(`report written to ${p.dir}/report.html`); break;
      default: break;
    }
  };

  // --wheelhouse: the dependencies come from it (nothing prefetched); the index then only serves a NAME or URL.
  const wheelhouseArg = values.wheelhouse !== undefined ? resolve(values.wheelhouse) : undefined;
  const prefetch = wheelhouseArg === undefined;
  let client: IndexClient | undefined;
  if (target.kind !== 'file' || prefetch) {
    const cfg = indexConfig({ flag: values['index-url'] });
    client = new IndexClient({ indexUrl: cfg.url });
    say(`package index ${client.simpleUrl} (${cfg.from})`);
  } else if (values['index-url'] !== undefined) {
    say('--index-url is not used: the distribution is a file and --wheelhouse holds its dependencies');
  }
  let fetched: FetchedTarget;
  if (target.kind === 'file') fetched = { path: resolve(target.path), origin: { kind: 'file', sha256Verified: false } };
  else fetched = await fetchAuditTarget(target, { client: client!, downloadsDir: join(cacheRoot(), 'downloads'), say });

  const stem = basename(fetched.path).replace(/(\.tar\.gz|\.tgz|\.zip|\.whl)$/, '');
  const outDir = resolve(values.out ?? `pyti-out/${stem}`);
  const audit: AuditOptions = {
    distPath: fetched.path, wheelhouse: wheelhouseArg, outDir, backend: make(), parallel, onProgress, origin: fetched.origin, perf: values.perf,
  };
  let jobDir: string | undefined;
  try {
    if (prefetch || fetched.expect) {
      // Read (and refuse a hostile archive) before anything is fetched for it or the index's answer is trusted.
      const dist = await validateDist(fetched.path);
      if (fetched.expect) checkServedDist(fetched.expect, dist);
      if (prefetch) {
        // The slave's prefetch (job-runner.ts), with the user's wheel cache and a wheelhouse for this audit only.
        const { cache, rootfs, tags } = await openPrefetchHost({ wheelCacheDir: join(cacheRoot(), 'wheels') });
        jobDir = createJobDir();
        const wheelhouse = join(jobDir, 'wheelhouse');
        mkdirSync(wheelhouse);
        audit.wheelhouse = wheelhouse;
        audit.rootfs = rootfs;
        const down = await client!.whyUnreachable(dist.name);
        if (down) {
          say(`the index does not answer (${down}): nothing prefetched, the audit runs with an empty wheelhouse (offline, give --wheelhouse DIR)`);
        } else {
          say(`prefetching dependencies and build requirements with the guest's pip (wheel cache ${cache.root})`);
          const summary = await prefetchDependencies({ dist, wheelhouse, cache, rootfs, tags, simpleUrl: client!.simpleUrl, onLog: (l) => say(`prefetch: ${l}`) });
          if (summary.error) say(`prefetch incomplete (the audit runs all the same; what is missing shows in the report): ${summary.error.split('\n')[0]}`);
          // What prefetch resolved for the tests (as the slave's job-runner passes it on).
          if (summary.testRequirements) audit.testRequirements = summary.testRequirements;
          audit.installPlan = summary.installPlan;
        }
      }
    }
    const outcome = await auditDistribution(audit);
    if (values.json) io.out(`${JSON.stringify(outcome.report, null, 1)}\n`);
    else io.out(`${renderTerminal(outcome.report, io.isTTY)}\n  report: ${outDir}/report.html\n`);
    return outcome.exitCode;
  } finally {
    if (jobDir) removeJobDir(jobDir);
  }
}

async function imageCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { force: { type: 'boolean', default: false } } });
  const sub = positionals[0];
  if (sub === 'info') {
    const info = findRootfs();
    if (!info) {
      io.out('no guest image built for the current recipe (run `pyti image build`)\n');
      return 2;
    }
    io.out(`${JSON.stringify({ ...info, boot: findBootImage() }, null, 1)}\n`);
    return 0;
  }
  if (sub !== 'build') throw new UsageError('image takes `build` or `info`');
  const info = await buildRootfs({ force: values.force, onProgress: (l) => io.err(`${l}\n`) });
  io.out(`${info.cached ? 'cached' : 'built'} guest root filesystem ${info.hash.slice(0, 16)}: ${(info.sizeBytes / 1048576).toFixed(0)} MiB, built in ${info.buildSeconds} s\n  ${info.path}\n`);
  const boot = await buildBootImage({ force: values.force, onProgress: (l) => io.err(`${l}\n`) });
  io.out(`${boot.cached ? 'cached' : 'built'} bootable image ${boot.hash.slice(0, 16)} (kernel ${boot.kernelVersion}): qcow2 ${(boot.sizeBytes / 1048576).toFixed(0)} MiB, built in ${boot.buildSeconds} s\n  ${boot.rootDisk}\n`);
  return 0;
}

/** For the error-code registry test: every code the CLI can print is registered. */
export const KNOWN_ERROR_CODES = Object.keys(ERROR_CODES);
