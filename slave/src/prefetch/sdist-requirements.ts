/**
 * What an sdist needs, read without building it (building would run its code on the slave):
 *
 * - build requirements: `[build-system].requires` of its top-level pyproject.toml, or PEP 518's default
 *   (`setuptools>=40.8.0`, `wheel`) when it has no pyproject.toml or the table does not say;
 * - runtime requirements, when its PKG-INFO lists none (metadata before 2.2 need not): PEP 621's
 *   `[project].dependencies` when not declared dynamic, else setuptools' `*.egg-info/requires.txt`
 *   (its unconditional and `[:marker]` sections; extras are not installed by the audit).
 *
 * Security: the archive (already checked by validateDist) is only read, never extracted: the two
 * members are read into memory (at most 1 MiB each); the TOML is parsed by the guest's `tomllib` inside
 * the guest sandbox without network, and its answer is checked (lists of short strings).
 */
import { PytiError } from '@pyti/vm-agent';
import { runInGuest } from './guest-python.js';
import { DEFAULT_MEMBER_CAPS, readArchiveMembers } from '../input/archive-members.js';

/** PEP 518's requirements when a project does not say. */
export const DEFAULT_BUILD_REQUIRES = Object.freeze(['setuptools>=40.8.0', 'wheel']);

const MAX_MEMBER = 1024 * 1024;

/** The top-level pyproject.toml and egg-info requires.txt of a .tar.gz or .zip sdist (null when absent). */
export async function readSdistMembers(path: string): Promise<{ pyproject: string | null; requiresTxt: string | null }> {
  const isRequiresTxt = (rel: string): boolean => /^[^/]+\.egg-info\/requires\.txt$/.test(rel);
  const { files } = await readArchiveMembers(path, (rel) => rel === 'pyproject.toml' || isRequiresTxt(rel), { ...DEFAULT_MEMBER_CAPS, maxFileBytes: MAX_MEMBER });
  const requiresTxt = [...files.keys()].find(isRequiresTxt);
  return { pyproject: files.get('pyproject.toml') ?? null, requiresTxt: requiresTxt === undefined ? null : files.get(requiresTxt)! };
}

/** Requirements from setuptools' requires.txt: the unconditional section and `[:marker]` sections. */
export function parseRequiresTxt(text: string): string[] {
  const out: string[] = [];
  let marker: string | null = '';
  for (const raw of text.split(/\r?\n/).slice(0, 2000)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      const s = section[1]!;
      marker = s.startsWith(':') ? s.slice(1) : null; // `[extra]` and `[extra:marker]` are extras: skipped
      continue;
    }
    if (marker === null) continue;
    out.push(marker ? `${line}; ${marker}` : line);
  }
  return out;
}

const SCRIPT = `
import json, sys, tomllib
try:
    doc = tomllib.loads(sys.stdin.read())
except Exception as e:
    print(json.dumps({'error': 'pyproject.toml is not valid TOML: %s' % e}))
    sys.exit(0)
bs = doc.get('build-system')
pr = doc.get('project')
pr = pr if isinstance(pr, dict) else {}
dyn = pr.get('dynamic') if isinstance(pr.get('dynamic'), list) else []
print(json.dumps({
    'requires': bs.get('requires') if isinstance(bs, dict) else None,
    'backend': bs.get('build-backend') if isinstance(bs, dict) else None,
    'dependencies': pr.get('dependencies') if 'dependencies' not in dyn else None,
}))
`;

export interface SdistRequirements {
  build: string[];
  /** `[build-system].build-backend` (at most 200 characters); undefined when not a string (setuptools' legacy backend). */
  backend?: string;
  /** Runtime requirements from pyproject.toml or requires.txt; undefined when neither says. */
  runtime?: string[];
  /** What was defaulted, for the log. */
  notes: string[];
  /** What was wrong with the files (the build requirements are then empty), for the summary. */
  problems: string[];
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 500 && v.every((x) => typeof x === 'string' && x.length <= 500);

/** Reads an sdist's build and runtime requirements (see the module comment). */
export async function sdistRequirements(path: string, rootfs: string, signal?: AbortSignal): Promise<SdistRequirements> {
  const m = await readSdistMembers(path);
  const res: SdistRequirements = { build: [...DEFAULT_BUILD_REQUIRES], notes: [], problems: [] };
  if (m.pyproject === null) {
    res.notes.push('no pyproject.toml: PEP 518 default build requirements');
  } else {
    const r = await runInGuest(['python3', '-I', '-c', SCRIPT], { rootfs, stdin: m.pyproject, timeoutMs: 60_000, signal, maxOutputBytes: 512 * 1024 });
    let doc: { requires?: unknown; dependencies?: unknown; error?: unknown; backend?: unknown };
    try {
      doc = JSON.parse(r.stdout.trim()) as typeof doc;
    } catch {
      throw new PytiError('PYTI_PREFETCH_FAILED', `reading pyproject.toml failed: ${r.stderr.trim().slice(-500)}`);
    }
    if (typeof doc.error === 'string') {
      res.build = [];
      res.problems.push(doc.error.slice(0, 500));
    } else {
      if (doc.requires === null || doc.requires === undefined) res.notes.push('no [build-system].requires: PEP 518 default');
      else if (strings(doc.requires)) res.build = doc.requires;
      else {
        res.build = [];
        res.problems.push('[build-system].requires is not a list of requirement strings');
      }
      if (strings(doc.dependencies)) res.runtime = doc.dependencies;
      if (typeof doc.backend === 'string' && doc.backend.length <= 200) res.backend = doc.backend;
    }
  }
  if (res.runtime === undefined && m.requiresTxt !== null) res.runtime = parseRequiresTxt(m.requiresTxt);
  return res;
}
