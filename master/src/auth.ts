/**
 * Tokens: one user token (submits, cancels, admin) and one token per slave (the token names the
 * slave). On first start the master writes `<data>/tokens.json` (mode 0600) with a fresh user token
 * and a slave token for `local`; flags and the environment can set the user token and add slaves.
 * Tokens are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PytiError } from '@pyti/vm-agent';
import { checkSlaveToken, type MasterConfig } from './config.js';

export interface MasterTokens {
  user: string;
  /** Slave name → token. */
  slaves: Record<string, string>;
}

/** Name of the tokens file inside the data directory. */
export const TOKENS_FILE = 'tokens.json';

/** A fresh random token (256 bits, base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of two tokens (lengths are hidden by hashing first). */
export function tokenEquals(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function readTokensFile(path: string): MasterTokens {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new PytiError('PYTI_CONFIG_INVALID', `${path}: not readable JSON`, { cause: err });
  }
  const o = raw as Partial<MasterTokens> | null;
  if (!o || typeof o !== 'object' || typeof o.user !== 'string' || o.user.length < 8 || !o.slaves || typeof o.slaves !== 'object') {
    throw new PytiError('PYTI_CONFIG_INVALID', `${path}: expected {"user": "<token>", "slaves": {"<name>": "<token>"}}`);
  }
  const slaves: Record<string, string> = {};
  for (const [name, token] of Object.entries(o.slaves)) {
    if (typeof token !== 'string') throw new PytiError('PYTI_CONFIG_INVALID', `${path}: the token of slave ${name} is not a string`);
    checkSlaveToken(path, name, token);
    slaves[name] = token;
  }
  return { user: o.user, slaves };
}

/**
 * Loads `<data>/tokens.json`, creating it (0600) on first start, then applies the configuration's
 * user token and extra slave tokens (not written back). Throws PYTI_CONFIG_INVALID.
 */
export function loadTokens(config: MasterConfig): MasterTokens {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const path = join(config.dataDir, TOKENS_FILE);
  let stored: MasterTokens;
  if (existsSync(path)) {
    stored = readTokensFile(path);
  } else {
    stored = { user: newToken(), slaves: { local: newToken() } };
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  }
  const tokens: MasterTokens = { user: config.userToken ?? stored.user, slaves: { ...stored.slaves, ...config.slaveTokens } };
  const seen = new Map<string, string>();
  for (const [name, token] of Object.entries(tokens.slaves)) {
    if (tokenEquals(token, tokens.user)) throw new PytiError('PYTI_CONFIG_INVALID', `slave ${name}'s token is the user token`);
    const other = seen.get(token);
    if (other) throw new PytiError('PYTI_CONFIG_INVALID', `slaves ${other} and ${name} share a token (a token names one slave)`);
    seen.set(token, name);
  }
  return tokens;
}

/** Answers "who is this?" for a bearer token, in constant time per candidate. */
export class TokenAuthority {
  private readonly slaveList: [string, string][];
  constructor(readonly tokens: MasterTokens) {
    this.slaveList = Object.entries(tokens.slaves);
  }

  /** True when `token` is the user token. */
  isUser(token: string | null): boolean {
    return token !== null && tokenEquals(token, this.tokens.user);
  }

  /** The slave this token names, or null. Compares against every slave token. */
  slaveFor(token: string | null): string | null {
    if (token === null) return null;
    let found: string | null = null;
    for (const [name, t] of this.slaveList) if (tokenEquals(token, t) && found === null) found = name;
    return found;
  }

  /** Whether a slave with this name is configured. */
  hasSlave(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.tokens.slaves, name);
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}
