import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenAuthority, bearerToken, loadTokens, tokenEquals } from './auth.js';
import { loadMasterConfig } from './config.js';

describe('tokens', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-auth-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates tokens.json (0600) once and reuses it', () => {
    const a = loadTokens(loadMasterConfig({ data: dir }, {}));
    expect(statSync(join(dir, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(a.user).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(a.slaves)).toEqual(['local']);
    expect(loadTokens(loadMasterConfig({ data: dir }, {}))).toEqual(a);
    const b = loadTokens(loadMasterConfig({ data: dir, slaveToken: ['x:token-of-x-1'] }, { PYTI_USER_TOKEN: 'user-token-1' }));
    expect(b).toEqual({ user: 'user-token-1', slaves: { local: a.slaves.local, x: 'token-of-x-1' } });
    expect(JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8'))).toEqual(a);
  });

  it('refuses a broken tokens file and shared tokens', () => {
    writeFileSync(join(dir, 'tokens.json'), '{"user": 1}');
    expect(() => loadTokens(loadMasterConfig({ data: dir }, {}))).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID' }));
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify({ user: 'user-token-1', slaves: { a: 'user-token-1' } }));
    expect(() => loadTokens(loadMasterConfig({ data: dir }, {}))).toThrow(/user token/);
  });

  it('names the slave of a token and tells the user token apart', () => {
    const auth = new TokenAuthority({ user: 'user-token-1', slaves: { a: 'token-of-a-1', b: 'token-of-b-1' } });
    expect(auth.slaveFor('token-of-b-1')).toBe('b');
    expect(auth.slaveFor('user-token-1')).toBeNull();
    expect(auth.slaveFor(null)).toBeNull();
    expect(auth.isUser('user-token-1')).toBe(true);
    expect(auth.isUser('token-of-a-1')).toBe(false);
    expect(tokenEquals('x', 'xx')).toBe(false);
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
  });
});
