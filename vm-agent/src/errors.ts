/**
 * The one registry of PyTI's error codes. Every error PyTI raises carries one of these codes and,
 * where there is one, its cause. A test keeps the registry complete: every `PYTI_*` code used in
 * the sources must be listed here, and every listed code must be used.
 *
 * Infrastructure failures during a job (a guest breaking the protocol, a sandbox dying, a job timing
 * out) are not thrown: they are the report's result (`error:sandbox-protocol`, …), see agent-session.ts.
 */
export const ERROR_CODES = {
  PYTI_PLAN_INVALID: 'the task plan is invalid (cycle, unknown dependency, data nobody produces, bad limits)',
  PYTI_IMAGE_MISSING: 'the guest image for this recipe has not been built',
  PYTI_IMAGE_BUILD_FAILED: 'building the guest image failed',
  PYTI_IMAGE_NOT_ROOT: 'building the guest image needs root',
  PYTI_INPUT_NOT_FOUND: 'the distribution file does not exist or is not a regular file',
  PYTI_INPUT_NOT_ARCHIVE: 'the input is not a wheel or a .tar.gz sdist',
  PYTI_INPUT_MALFORMED: 'the archive is corrupt or truncated',
  PYTI_INPUT_UNSAFE_PATH: 'an archive member has an absolute path or climbs out with ..',
  PYTI_INPUT_UNSAFE_LINK: 'an archive member is a link pointing outside the archive, or a device',
  PYTI_INPUT_TOO_LARGE: 'the archive expands beyond the size, count or ratio limits (zip bomb)',
  PYTI_INPUT_NO_METADATA: 'the distribution has no PKG-INFO/METADATA, or it lacks Name or Version',
  PYTI_WHEELHOUSE_INVALID: 'the wheelhouse is not a readable directory',
  PYTI_BACKEND_UNAVAILABLE: 'the sandbox backend cannot run on this host',
  PYTI_USAGE: 'the command line is wrong',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code and, where there is one, its cause. */
export class PytiError extends Error {
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PytiError';
  }
}
