// Runs every benchmark in turn (npm run bench).
import { spawnSync } from 'node:child_process';

for (const script of ['trace-parser.mjs', 'queue.mjs', 'changelog-ingest.mjs', 'sandbox-vs-native.mjs', 'vm-vs-native.mjs']) {
  const r = spawnSync(process.execPath, [new URL(script, import.meta.url).pathname], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
