import { loadMasterConfig } from './config.js';

describe('loadMasterConfig', () => {
  it('has safe defaults and is frozen', () => {
    const c = loadMasterConfig({}, { PYTI_MASTER_DATA: '/tmp/pyti-m' });
    expect(c).toMatchObject({ dataDir: '/tmp/pyti-m', host: '127.0.0.1', port: 8470, leaseMs: 60000, heartbeatMs: 15000, maxWaitMs: 30000, maxAttempts: 3, defaultBackend: 'bwrap', publicRead: false, userToken: null, slaveTokens: {}, gitPollMs: 60000 });
    expect(loadMasterConfig({ gitPollMs: '500' }, {}).gitPollMs).toBe(500);
    expect(Object.isFrozen(c)).toBe(true);
    expect(loadMasterConfig({}, {}).dataDir).toMatch(/\.local\/share\/pyti\/master$/);
  });

  it('keeps the store in SQLite in the data directory unless given a PostgreSQL URL; blobs in the data directory unless --blob-dir', () => {
    expect(loadMasterConfig({}, { PYTI_MASTER_DATA: '/tmp/pyti-m' })).toMatchObject({ database: null, blobDir: '/tmp/pyti-m/blobs' });
    expect(loadMasterConfig({ database: 'postgresql://u@db.invalid/pyti', blobDir: '/srv/b' }, {})).toMatchObject({ database: 'postgresql://u@db.invalid/pyti', blobDir: '/srv/b' });
    expect(loadMasterConfig({}, { PYTI_DATABASE_URL: 'postgres://db.invalid/p', PYTI_BLOB_DIR: '/srv/c' })).toMatchObject({ database: 'postgres://db.invalid/p', blobDir: '/srv/c' });
    expect(() => loadMasterConfig({ database: 'mysql://db.invalid/p' }, {})).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID', message: expect.stringMatching(/^--database: /) }));
    expect(() => loadMasterConfig({}, { PYTI_DATABASE_URL: '/var/lib/x.db' })).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID', message: expect.stringMatching(/^PYTI_DATABASE_URL: /) }));
  });

  it('takes slave tokens from the environment and flags', () => {
    const c = loadMasterConfig({ slaveToken: ['b:token-of-b-123'] }, { PYTI_SLAVE_TOKENS: 'a:token-of-a-123, c:token-of-c-123', PYTI_USER_TOKEN: 'user-token-123' });
    expect(c.slaveTokens).toEqual({ a: 'token-of-a-123', b: 'token-of-b-123', c: 'token-of-c-123' });
    expect(c.userToken).toBe('user-token-123');
  });

  it.each([
    [{ port: '80x' }, /--port: "80x" is not an integer/],
    [{ port: 70000 }, /--port: 70000 is outside/],
    [{ leaseMs: 1000, heartbeatMs: 600 }, /--heartbeat-ms: 600 must be less than half the lease/],
    [{ maxAttempts: 0 }, /--max-attempts/],
    [{ slaveToken: ['nocolon'] }, /--slave-token: an entry .* is not name:token/],
    [{ slaveToken: ['a:short'] }, /token of slave a must be 8-256/],
    [{ slaveToken: ['a b:token-123456'] }, /slave name/],
    [{ slaveToken: ['a:same-token-1', 'b:same-token-1'] }, /share a token/],
    [{ defaultBackend: 'Bad Backend' }, /--default-backend/],
    [{ gitPollMs: '50' }, /--git-poll-ms: 50 is outside 100\.\./],
    [{ gitPollMs: 'soon' }, /--git-poll-ms: "soon" is not an integer/],
  ])('refuses %j', (flags, message) => {
    expect(() => loadMasterConfig(flags, {})).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID', message: expect.stringMatching(message) }));
  });

  it('does not echo a token in its errors', () => {
    try {
      loadMasterConfig({ slaveToken: ['secret-token-without-name'] }, {});
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-token');
    }
  });
});
