/**
 * Finding Debian's `chromium` for the browser tests (Playwright's own browser downloads are never
 * used: `playwright-core` drives the system browser through `executablePath`).
 */
import { existsSync } from 'node:fs';

/** Where Debian (and Ubuntu) install the browser; `PYTI_CHROMIUM` names another executable. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'] as const;

/** The chromium executable, or null when none is installed. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const override = env.PYTI_CHROMIUM;
  if (override) return existsSync(override) ? override : null;
  return CHROMIUM_PATHS.find((p) => existsSync(p)) ?? null;
}

/** Whether this is a CI run (`CI` set to anything but empty, `false` or `0`; .ci/run sets it). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.CI && env.CI !== 'false' && env.CI !== '0';
}

/**
 * Why the browser tests cannot run here, or null when they can. A missing browser is a reason to
 * skip only on a developer's machine: under CI (`CI` set to anything but `false`/`0`) it throws, so a
 * CI run without chromium fails instead of passing with nothing checked.
 */
export function browserSkipReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (findChromium(env)) return null;
  const why = env.PYTI_CHROMIUM
    ? `PYTI_CHROMIUM=${env.PYTI_CHROMIUM} does not exist`
    : `chromium is not installed (looked for ${CHROMIUM_PATHS.join(', ')}; install it with bash .ci/install-system-deps)`;
  if (isCi(env)) throw new Error(`browser tests cannot run under CI: ${why}`);
  return why;
}

/**
 * Command-line flags for headless chromium in tests. `--no-sandbox` is needed when the tests run as
 * root (CI containers and this project's machines do): chromium refuses to start its setuid/user-
 * namespace sandbox as root. The pages under test are our own master's, on 127.0.0.1.
 */
export function chromiumArgs(): string[] {
  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--hide-scrollbars', '--font-render-hinting=none'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return args;
}
