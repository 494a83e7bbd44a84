/**
 * Which package index `pyti audit` uses, from (first found wins) `--index-url`, `PYTI_INDEX_URL`,
 * `PIP_INDEX_URL`, pip's configuration files (`[global] index-url`, in pip's own precedence), else
 * https://pypi.org.
 *
 * pip's precedence (pip/_internal/configuration.py: OVERRIDE_ORDER global < user < site < env file,
 * later files override earlier ones): the file `PIP_CONFIG_FILE` names; the site file
 * `$VIRTUAL_ENV/pip.conf`; the user files `$XDG_CONFIG_HOME/pip/pip.conf` (default
 * `~/.config/pip/pip.conf`) over the legacy `~/.pip/pip.conf` — both skipped when `PIP_CONFIG_FILE`
 * names a file that exists; the global files `/etc/pip.conf` over `$XDG_CONFIG_DIRS/pip/pip.conf`
 * (default `/etc/xdg/pip/pip.conf`). `PIP_CONFIG_FILE=/dev/null` turns every file off, as in pip.
 * Keys are read as pip reads them: case-insensitive, `_` the same as `-` (`index_url`, `Index-URL`).
 *
 * Security: a configuration file is read capped (1 MiB) and only its `[global]` `index-url` is used;
 * the URL is checked by indexLocation (http or https, no credentials, no query or fragment).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { DEFAULT_INDEX_URL, indexLocation, type IndexLocation } from '@pyti/common';

/** The index to use and where that choice came from. */
export interface IndexConfig extends IndexLocation {
  /** The URL as configured. */
  url: string;
  /** `--index-url`, `PYTI_INDEX_URL`, `PIP_INDEX_URL`, a configuration file's path, or `default`. */
  from: string;
  /** True when the index was named by the command line or the environment (not pip's files or the default). */
  explicit: boolean;
}

/** Where to look; defaults are the process's. */
export interface IndexConfigInput {
  /** `--index-url`. */
  flag?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/** pip's configuration files for the environment, lowest precedence first (later files override earlier ones). */
export function pipConfigFiles(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  const envFile = env.PIP_CONFIG_FILE || undefined;
  if (envFile === '/dev/null') return [];
  const xdgDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').filter(Boolean);
  const files = [...xdgDirs.map((d) => join(d, 'pip', 'pip.conf')), '/etc/pip.conf'];
  if (!(envFile && existsSync(envFile))) {
    files.push(join(home, '.pip', 'pip.conf'), join(env.XDG_CONFIG_HOME || join(home, '.config'), 'pip', 'pip.conf'));
  }
  if (env.VIRTUAL_ENV) files.push(join(env.VIRTUAL_ENV, 'pip.conf'));
  if (envFile) files.push(envFile);
  return files;
}

/**
 * The values of an INI text as Python's configparser reads pip's files: `[section]` headers,
 * `key = value` or `key: value`, `#` and `;` comment lines, indented continuation lines. Keys are
 * `section.key`, normalized as pip does (lower case, `_` → `-`, a leading `--` dropped).
 */
export function parsePipConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section: string | undefined;
  let last: string | undefined;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(raw)) continue;
    if (/^\s/.test(raw) && last !== undefined) {
      out.set(last, `${out.get(last)}\n${raw.trim()}`.trim());
      continue;
    }
    const sec = /^\[([^\]]+)\]\s*$/.exec(raw.trim());
    if (sec) {
      section = sec[1]!.trim().toLowerCase();
      last = undefined;
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw.trim());
    if (!kv || section === undefined) {
      last = undefined;
      continue;
    }
    const key = `${section}.${kv[1]!.toLowerCase().replace(/_/g, '-').replace(/^--/, '')}`;
    out.set(key, kv[2]!.trim());
    last = key;
  }
  return out;
}

/** The `[global] index-url` of pip's configuration files (pip's precedence), with the file it came from. */
export function pipConfigIndexUrl(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): { url: string; file: string } | undefined {
  let found: { url: string; file: string } | undefined;
  for (const file of pipConfigFiles(env, home)) {
    let text: string;
    try {
      const st = statSync(file);
      if (!st.isFile()) continue;
      if (st.size > MAX_CONFIG_BYTES) throw new PytiError('PYTI_CONFIG_INVALID', `pip configuration file ${file} is larger than ${MAX_CONFIG_BYTES} bytes`);
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof PytiError) throw err;
      continue; // absent or unreadable: pip skips it too
    }
    const url = parsePipConfig(text).get('global.index-url');
    if (url) found = { url: url.split('\n')[0]!.trim(), file };
  }
  return found;
}

/** The index `pyti audit` uses (see the file comment); throws PYTI_CONFIG_INVALID for a URL that is not an acceptable index. */
export function indexConfig(input: IndexConfigInput = {}): IndexConfig {
  const env = input.env ?? process.env;
  const pick = (): Omit<IndexConfig, keyof IndexLocation> => {
    if (input.flag !== undefined) return { url: input.flag, from: '--index-url', explicit: true };
    if (env.PYTI_INDEX_URL) return { url: env.PYTI_INDEX_URL, from: 'PYTI_INDEX_URL', explicit: true };
    if (env.PIP_INDEX_URL) return { url: env.PIP_INDEX_URL.trim(), from: 'PIP_INDEX_URL', explicit: true };
    const conf = pipConfigIndexUrl(env, input.home ?? homedir());
    if (conf) return { url: conf.url, from: conf.file, explicit: false };
    return { url: DEFAULT_INDEX_URL, from: 'default', explicit: false };
  };
  const c = pick();
  let loc: IndexLocation;
  try {
    loc = indexLocation(c.url);
  } catch (err) {
    throw new PytiError('PYTI_CONFIG_INVALID', `${(err as Error).message} (from ${c.from})`, { cause: err });
  }
  return { ...c, ...loc };
}
