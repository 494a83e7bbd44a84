import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from './errors.js';

// Keeps the registry complete: every PYTI_* code written anywhere in the sources is registered.
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules' || n === 'dist' || n === 'bundle' || n.startsWith('.')) return [];
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|mjs|py|sh)$/.test(n) && !n.endsWith('.test.ts') ? [p] : [];
  });
}

describe('error code registry', () => {
  it('lists every PYTI_* code used in the sources, and every listed code is used', () => {
    const root = new URL('../../', import.meta.url).pathname;
    const used = new Set<string>();
    for (const ws of ['vm-agent', 'tasks', 'images', 'common', 'slave', 'master', 'test']) {
      for (const f of sources(join(root, ws))) {
        if (f.endsWith(join('vm-agent', 'src', 'errors.ts'))) continue; // the registry itself
        for (const m of readFileSync(f, 'utf8').matchAll(/\bPYTI_[A-Z_]*[A-Z]\b/g)) used.add(m[0]);
      }
    }
    const registered = new Set(Object.keys(ERROR_CODES));
    const allowed = new Set(['PYTI_CACHE_DIR', 'PYTI_DEBIAN_MIRROR', 'PYTI_TASK', 'PYTI_AGENT_UID_BASE', 'PYTI_VERSION', 'PYTI_KEEP_TEST_OUTPUT', 'PYTI_GUEST', 'PYTI_ATTACH', 'PYTI_ACCEL', 'PYTI_VM_WARM', 'PYTI_METADATA_NS', 'PYTI_VM_GRACE_MS', 'PYTI_PARITY_BACKENDS', 'PYTI_PARITY_ALL', 'PYTI_TEST_ECHO', 'PYTI_MASTER_URL', 'PYTI_TOKEN', 'PYTI_MASTER_DATA', 'PYTI_USER_TOKEN', 'PYTI_SLAVE_TOKENS', 'PYTI_SLAVE_TOKEN', 'PYTI_INDEX_URL', 'PYTI_SLAVE_DATA', 'PYTI_OBSERVATIONS_TOKEN', 'PYTI_WINDOWS_SHIMS', 'PYTI_EXE_SHIM', 'PYTI_SHIM_LOG', 'PYTI_OUTCOMES', 'PYTI_OUTCOMES_MAX', 'PYTI_COVERAGE_DATA', 'PYTI_COVERAGE_SOURCE', 'PYTI_WALL_SECONDS', 'PYTI_CORPUS_DIR', 'PYTI_PUBLIC_URL', 'PYTI_SMTP_PASSWORD', 'PYTI_CHROMIUM', 'PYTI_UPDATE_SCREENSHOTS', 'PYTI_RETENTION_MAX_AGE', 'PYTI_RETENTION_MAX_BYTES', 'PYTI_GC_GRACE', 'PYTI_GC_INTERVAL', 'PYTI_RETENTION_PRUNE_FLAGGED', 'PYTI_WHEEL_CACHE_MAX', 'PYTI_WHEEL_CACHE_MAX_AGE', 'PYTI_AGENT_SINKHOLE', 'PYTI_DATABASE_URL', 'PYTI_BLOB_DIR', 'PYTI_PG_BIN', 'PYTI_VM_POOL', 'PYTI_WARM_PYTHON']); // environment variables and names, not errors
    expect([...used].filter((c) => !registered.has(c) && !allowed.has(c))).toEqual([]);
    expect([...registered].filter((c) => !used.has(c))).toEqual([]);
  });
});
