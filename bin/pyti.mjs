#!/usr/bin/env node
// The `pyti` command: see `pyti --help`. Run `npm run build` first (the setup command does).
import { main } from '../slave/dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
