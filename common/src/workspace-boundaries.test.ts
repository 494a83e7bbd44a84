/**
 * Keeps the workspace layout honest: the master never imports the slave, and @pyti/common imports
 * neither (both ends depend on common, not on each other). Checked in the sources (static and dynamic
 * imports, re-exports, relative paths into another workspace), in package.json dependencies and in
 * the TypeScript project references.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
/** This file: its samples of forbidden imports are data, not imports. */
const SELF = new URL(import.meta.url).pathname;

/** Every .ts file under `dir` (tests included: a test importing the slave ties the master to it too). */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules' || n === 'dist') return [];
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** The module specifiers a TypeScript source imports or re-exports, dynamic `import()` included. */
function specifiersOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g)) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

/** The workspace a specifier in `file` reaches: `@pyti/x` (or `@pyti/x/sub`) names x; a relative path names the top directory it lands in. */
function workspaceOf(spec: string, file: string): string | undefined {
  const pkg = /^@pyti\/([a-z-]+)(?:\/|$)/.exec(spec);
  if (pkg) return pkg[1];
  if (!spec.startsWith('.')) return undefined;
  return relative(ROOT, resolve(dirname(file), spec)).split('/')[0];
}

/** Files of `ws` (relative to the root) with the forbidden workspaces they import. */
function offenders(ws: string, forbidden: string[]): string[] {
  return tsFiles(join(ROOT, ws, 'src')).filter((f) => f !== SELF).flatMap((f) =>
    specifiersOf(readFileSync(f, 'utf8'))
      .filter((s) => forbidden.includes(workspaceOf(s, f) ?? ''))
      .map((s) => `${relative(ROOT, f)}: ${s}`));
}

function packageJson(ws: string): { dependencies?: Record<string, string>; devDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8'));
}

function references(ws: string): string[] {
  const tsconfig = JSON.parse(readFileSync(join(ROOT, ws, 'tsconfig.json'), 'utf8')) as { references?: { path: string }[] };
  return (tsconfig.references ?? []).map((r) => relative(ROOT, resolve(ROOT, ws, r.path)));
}

const RULES: [ws: string, forbidden: string[]][] = [
  ['master', ['slave']],
  ['common', ['slave', 'master', 'test']],
];

describe('workspace boundaries', () => {
  it('finds imports of a workspace in every form a source can write them', () => {
    const f = join(ROOT, 'master', 'src', 'x', 'y.ts');
    const src = [
      "import { a } from '@pyti/slave';",
      "import type {\n  B,\n} from '@pyti/slave/cli';",
      "export * from '../../../slave/src/audit.js';",
      "const m = await import('@pyti/master');",
      "import '@pyti/test';",
      "import { esc } from '@pyti/common';",
      "import { join } from 'node:path';",
    ].join('\n');
    expect(specifiersOf(src).map((s) => workspaceOf(s, f))).toEqual(['slave', 'slave', 'slave', 'master', 'test', 'common', undefined]);
  });

  it.each(RULES)('%s imports none of %p', (ws, forbidden) => {
    expect(offenders(ws, forbidden)).toEqual([]);
  });

  it.each(RULES)('%s/package.json depends on none of %p and its tsconfig references none', (ws, forbidden) => {
    const pkg = packageJson(ws);
    const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
    expect(deps.filter((d) => forbidden.some((f) => d === `@pyti/${f}`))).toEqual([]);
    expect(references(ws).filter((r) => forbidden.includes(r))).toEqual([]);
  });

  it('master and slave both depend on @pyti/common, which the root lists as a workspace', () => {
    expect(packageJson('master').dependencies).toHaveProperty(['@pyti/common']);
    expect(packageJson('slave').dependencies).toHaveProperty(['@pyti/common']);
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    expect(root.workspaces.indexOf('common')).toBeGreaterThanOrEqual(0);
    expect(root.workspaces.indexOf('common')).toBeLessThan(root.workspaces.indexOf('slave'));
  });
});
