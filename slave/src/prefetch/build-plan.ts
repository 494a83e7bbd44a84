/**
 * What the host resolves for an sdist's isolated build environment (the install plan's `build` part,
 * installed in the guest without pip by tasks/guest/pyti_build_env.py): its build requirements and what
 * its backend is known to ask for besides through get_requires_for_build_wheel, so that the guest
 * installs that from the plan too instead of falling back to pip.
 */
import { normalizeRequirementName } from './test-requirements.js';

/** setuptools' backends (also the default when pyproject.toml names none). */
const SETUPTOOLS_BACKEND = /^setuptools\.build_meta(?::__legacy__)?$/;

/** The name of a requirement string (PEP 503 normalized), or '' when it has none. */
function requirementName(requirement: string): string {
  return normalizeRequirementName(requirement.trim().split(/[\s<>=!~;[(@]/, 1)[0] ?? '');
}

/**
 * The requirements the host adds to an sdist's build requirements for its build environment: `wheel`
 * for setuptools backends (`backend` undefined: setuptools' legacy one) that do not require it
 * already — setuptools before 70.1 asks for it from get_requires_for_build_wheel.
 */
export function backendExtraRequirements(requires: readonly string[], backend?: string): string[] {
  const setuptools = backend === undefined || SETUPTOOLS_BACKEND.test(backend.trim());
  if (!setuptools || requires.some((r) => requirementName(r) === 'wheel')) return [];
  return ['wheel'];
}
