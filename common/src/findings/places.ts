/**
 * Places the rules know: where credentials live (what stealers sweep) and where persistence goes.
 * Paths under the home are matched against every name of the home (see rule-kit's homesOf).
 */
import { homeRelative, under, type RuleContext } from './rule-kit.js';

/** Credential places under the home (the original sensitive-read list). */
export const SENSITIVE_HOME = ['.ssh', '.aws', '.netrc', '.gnupg', '.pypirc', '.git-credentials', '.docker/config.json', '.kube',
  '.config/gcloud', '.azure', '.mozilla', '.config/google-chrome', '.config/chromium', '.config/BraveSoftware',
  '.bash_history', '.zsh_history', '.password-store', '.local/share/keyrings'];
/** System credential places. */
export const SENSITIVE_SYSTEM = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/ssh', '/var/run/secrets', '/run/secrets'];

/**
 * Places stealers probe beyond the sensitive list: chat stores (W4SP, Hazard, BlankGrabber read
 * Discord's leveldb and Telegram's tdata), wallets (Exodus, Electrum, Atomic), other browsers.
 */
export const STEALER_HOME = ['.config/discord', '.config/discordcanary', '.config/discordptb', '.config/Discord',
  '.local/share/TelegramDesktop', '.telegram-desktop', '.config/Exodus', '.electrum', '.config/Electrum', '.config/atomic',
  '.bitcoin', '.ethereum', '.config/Ledger Live', '.monero', '.config/opera', '.config/vivaldi', '.config/microsoft-edge',
  '.config/yandex-browser', '.thunderbird', '.config/filezilla', '.purple', '.config/Signal', '.config/Slack', '.git-credentials'];

/** The sensitive place `path` is in (`~/.ssh`, `/etc/shadow`, `/proc/<pid>/environ`), else null. */
export function sensitivePlace(path: string, ctx: RuleContext): string | null {
  const rel = homeRelative(path, ctx);
  if (rel) for (const s of SENSITIVE_HOME) if (under(rel, s)) return `~/${s}`;
  for (const s of SENSITIVE_SYSTEM) if (under(path, s)) return s;
  if (/^\/proc\/\d+\/environ$/.test(path)) return '/proc/*/environ';
  return null;
}

/**
 * The credential place a probe of `path` looks for: the sensitive places, the stealer places, and
 * `.env` files anywhere (`weak`: frameworks look for `.env` too, and requests for `~/.netrc`).
 */
export function probedPlace(path: string, ctx: RuleContext): { place: string; weak: boolean } | null {
  const s = sensitivePlace(path, ctx);
  // requests looks for ~/.netrc before every request: weak, like .env.
  if (s) return { place: s, weak: s === '~/.netrc' };
  const rel = homeRelative(path, ctx);
  if (rel) for (const p of STEALER_HOME) if (under(rel, p)) return { place: `~/${p}`, weak: false };
  if (path.endsWith('/.env') || path === '.env') return { place: '.env', weak: true };
  return null;
}

const PERSISTENCE_HOME = ['.bashrc', '.bash_profile', '.bash_login', '.profile', '.zshrc', '.zprofile', '.zlogin', '.bash_logout',
  '.config/autostart', '.config/systemd', '.local/share/systemd', '.config/fish/config.fish', '.ssh/authorized_keys', '.ssh/rc', '.xinitrc', '.xprofile'];
const PERSISTENCE_SYSTEM = ['/etc/cron', '/etc/crontab', '/etc/cron.d', '/etc/cron.daily', '/etc/cron.hourly', '/var/spool/cron', '/etc/systemd', '/lib/systemd',
  '/usr/lib/systemd', '/etc/init.d', '/etc/rc.local', '/etc/profile', '/etc/profile.d', '/etc/bash.bashrc', '/etc/ld.so.preload', '/etc/xdg/autostart'];

/** The persistence place `path` is in, else null. */
export function persistencePlace(path: string, ctx: RuleContext): string | null {
  const rel = homeRelative(path, ctx);
  if (rel) for (const s of PERSISTENCE_HOME) if (under(rel, s)) return `~/${s}`;
  for (const s of PERSISTENCE_SYSTEM) if (path === s || under(path, s) || (s === '/etc/cron' && path.startsWith('/etc/cron'))) return s;
  return null;
}

/** Where a build or an install may write: the work area (venv, build tree), temp dirs, pip's cache. */
export function allowedWrite(path: string, ctx: RuleContext): boolean {
  // The home may live under the work area: under it, only pip's cache is a place to write.
  const rel = homeRelative(path, ctx);
  if (rel !== null) return under(rel, '.cache/pip');
  // /opt/pyti/tasks: PyTI's own read-only helpers (Python tries to cache their bytecode there).
  if ([ctx.work, ctx.tmp, '/var/tmp', '/dev/shm', '/dev/null', '/dev/tty', '/dev/pts', '/opt/pyti/tasks'].some((d) => under(path, d))) return true;
  return /^\/proc\/(self|\d+)\/(fd|task)\//.test(path);
}

/** Whether `path` is in the task user's home (under any of its names, or /root). */
export function inHome(path: string, ctx: RuleContext): boolean {
  return homeRelative(path, ctx) !== null;
}
