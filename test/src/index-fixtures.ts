/**
 * The distributions a realistic test index serves: the build requirements every setuptools project
 * names (Debian's `setuptools` and `wheel` wheels, real wheels of the same versions as the guest
 * image's) and the `idx-*` fixture packages (`idx-leaf` 1.0 and 1.1, `idx-app` 1.0 which depends on
 * `idx-leaf>=1.0`), each as sdist and wheel built by `buildFixture`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixture } from './fixture-dists.js';

/** Where Debian's python3-*-whl packages put their wheels. */
export const DEBIAN_WHEELS_DIR = '/usr/share/python-wheels';

/** The fixture packages (directories under test/fixtures/packages) of the test index. */
export const INDEX_FIXTURE_PACKAGES = ['idx-leaf-1.0', 'idx-leaf-1.1', 'idx-app'] as const;

/** An sdist and a wheel of one fixture package. */
export interface FixtureDists {
  sdist: string;
  wheel: string;
}

/** What `buildIndexFixtures` returns. */
export interface IndexFixtures {
  /** Every file, for `startIndexServer({ files })`. */
  files: string[];
  /** The setuptools and wheel wheels (build requirements). */
  buildRequirements: string[];
  /** Sdist and wheel by fixture package directory (`idx-leaf-1.0`, `idx-leaf-1.1`, `idx-app`, and any `extra`). */
  dists: Record<string, FixtureDists>;
}

/** The newest Debian-packaged wheel of `project` (e.g. `setuptools`); throws when its -whl package is not installed. */
export function debianWheel(project: string): string {
  const files = existsSync(DEBIAN_WHEELS_DIR) ? readdirSync(DEBIAN_WHEELS_DIR).filter((f) => f.startsWith(`${project}-`) && f.endsWith('.whl')) : [];
  if (!files.length) {
    throw new Error(`no ${project} wheel in ${DEBIAN_WHEELS_DIR}: install python3-${project}-whl (bash .ci/install-system-deps)`);
  }
  return join(DEBIAN_WHEELS_DIR, files.sort().pop()!);
}

/**
 * Builds (or takes from the cache) the index's distributions. `extra` names more fixture packages
 * from test/fixtures/packages to serve, as sdist and wheel (e.g. `pyti-helper`, `pyti-sample`).
 */
export function buildIndexFixtures(opts: { extra?: string[] } = {}): IndexFixtures {
  const buildRequirements = [debianWheel('setuptools'), debianWheel('wheel')];
  const dists: Record<string, FixtureDists> = {};
  for (const name of [...INDEX_FIXTURE_PACKAGES, ...(opts.extra ?? [])]) {
    dists[name] = { sdist: buildFixture(name, 'sdist'), wheel: buildFixture(name, 'wheel') };
  }
  return { files: [...buildRequirements, ...Object.values(dists).flatMap((d) => [d.sdist, d.wheel])], buildRequirements, dists };
}
