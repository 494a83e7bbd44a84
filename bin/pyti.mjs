#!/usr/bin/env node
// The `pyti` command: see `pyti --help`. Run `npm run build` first (the setup command does).
// `master`, `submit`, `status`, `report`, `subscribe`, `webhook` and `diff` belong to the master's CLI; everything else to the slave's.
const argv = process.argv.slice(2);
const MASTER_COMMANDS = new Set(['master', 'submit', 'status', 'report', 'subscribe', 'webhook', 'diff']);
// Long-running services install their own SIGINT/SIGTERM handlers to close or drain gracefully.
const HANDLES_SIGNALS = new Set(['master', 'slave']);

if (!HANDLES_SIGNALS.has(argv[0])) {
  // An interrupted audit exits through process.exit, so its job directory is removed (exit hook) and
  // its VM, which dies with its parent (pdeathsig), does not outlive it.
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.on(sig, () => {
      process.stderr.write(`pyti: interrupted by ${sig}; cleaning up\n`);
      process.exit(code);
    });
  }
}
const { main } = MASTER_COMMANDS.has(argv[0])
  ? await import('../master/dist/cli/main.js')
  : await import('../slave/dist/cli/main.js');
process.exitCode = await main(argv);
