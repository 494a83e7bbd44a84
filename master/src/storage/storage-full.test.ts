import { PytiError } from '@pyti/vm-agent';
import { apiError } from '../client/api-request.js';
import { guardedTick } from './guarded-tick.js';
import { isStorageFull, storageFullError } from './storage-full.js';

const sqliteFull = (): Error => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

describe('a full disk, recognised', () => {
  it('knows SQLITE_FULL, ENOSPC and EDQUOT, also as a cause, and nothing else', () => {
    expect(isStorageFull(sqliteFull())).toBe(true);
    expect(isStorageFull(Object.assign(new Error('write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isStorageFull(new Error('wrapped', { cause: Object.assign(new Error('quota'), { code: 'EDQUOT' }) }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error('locked'), { code: 'SQLITE_BUSY' }))).toBe(false);
    expect(isStorageFull(new PytiError('PYTI_USAGE', 'x'))).toBe(false);
    const e = storageFullError(sqliteFull(), 'POST /api/v1/audits');
    expect(e.code).toBe('PYTI_STORAGE_FULL');
    expect(e.message).toBe("POST /api/v1/audits: the master's data disk is full (SQLITE_FULL); writes are refused until space is freed");
  });
});

describe('guardedTick', () => {
  it('never throws nor leaves a rejection; logs a failure streak once, with its code, and the recovery', async () => {
    const lines: string[] = [];
    let mode: 'sync' | 'async' | 'ok' = 'sync';
    const tick = guardedTick('queue sweep', () => {
      if (mode === 'sync') throw sqliteFull();
      if (mode === 'async') return Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
      return 1;
    }, (l) => lines.push(l));
    for (let i = 0; i < 3; i++) expect(() => tick()).not.toThrow();
    mode = 'async';
    tick();
    await new Promise((r) => setImmediate(r));
    mode = 'ok';
    tick();
    expect(lines).toEqual([
      "queue sweep failed: PYTI_STORAGE_FULL: queue sweep: the master's data disk is full (SQLITE_FULL); writes are refused until space is freed; retrying at the next tick",
      'queue sweep works again after 4 failed tick(s)',
    ]);
  });
});

describe('the user API client on server faults', () => {
  it('maps 5xx to server codes, never to the caller\'s usage error', () => {
    expect(apiError(507, JSON.stringify({ error: { code: 'PYTI_STORAGE_FULL', message: 'full' } }), 'POST x').code).toBe('PYTI_STORAGE_FULL');
    expect(apiError(507, '', 'POST x').code).toBe('PYTI_STORAGE_FULL');
    // Masters before this fix labelled every 500 PYTI_USAGE.
    expect(apiError(500, JSON.stringify({ error: { code: 'PYTI_USAGE', message: 'internal error' } }), 'POST x').code).toBe('PYTI_MASTER_INTERNAL');
    expect(apiError(500, 'oops', 'POST x').code).toBe('PYTI_MASTER_INTERNAL');
    expect(apiError(503, '', 'GET x').code).toBe('PYTI_MASTER_UNREACHABLE');
    expect(apiError(400, JSON.stringify({ error: { code: 'PYTI_USAGE', message: 'bad' } }), 'POST x').code).toBe('PYTI_USAGE');
  });
});
