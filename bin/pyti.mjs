#!/usr/bin/env node
// The `pyti` command: see `pyti --help`. Run `npm run build` first (the setup command does).
import { main } from '../slave/dist/cli/main.js';

// An interrupted audit exits through process.exit, so its job directory is removed (exit hook) and
// its VM, which dies with its parent (pdeathsig), does not outlive it.
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    process.stderr.write(`pyti: interrupted by ${sig}; cleaning up\n`);
    process.exit(code);
  });
}
process.exitCode = await main(process.argv.slice(2));
