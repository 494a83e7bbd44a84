import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSlaveConfig } from './slave-config.js';
import { listFiles, Outbox } from './outbox.js';
import { lockDataDir } from './data-dir.js';
import { checkServedDist, errorOutcome } from './job-runner.js';
import { PytiError } from '@pyti/vm-agent';

const T = 'slave-token-0123456789';
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'pyti-daemon-parts-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('slave configuration', () => {
  it('takes flags over environment over defaults, frozen', () => {
    const c = loadSlaveConfig({ master: 'http://m:1/', concurrency: '3', backend: ['bwrap', 'bwrap'] }, { PYTI_SLAVE_TOKEN: T, PYTI_INDEX_URL: 'http://idx/', PYTI_SLAVE_DATA: dir, PYTI_MASTER_URL: 'http://other' });
    expect(c).toMatchObject({ masterUrl: 'http://m:1', token: T, concurrency: 3, backends: ['bwrap'], indexUrl: 'http://idx', dataDir: dir });
    expect(Object.isFrozen(c)).toBe(true);
    expect(loadSlaveConfig({}, { PYTI_MASTER_URL: 'http://m', PYTI_SLAVE_TOKEN: T, PYTI_SLAVE_DATA: dir }).indexUrl).toBe('https://pypi.org');
  });
  it('names what is wrong', () => {
    const env = { PYTI_SLAVE_TOKEN: T, PYTI_SLAVE_DATA: dir };
    expect(code(() => loadSlaveConfig({}, env))).toBe('PYTI_CONFIG_INVALID');
    expect(() => loadSlaveConfig({ master: 'ftp://x' }, env)).toThrow(/--master/);
    expect(() => loadSlaveConfig({ master: 'http://x', concurrency: '0' }, env)).toThrow(/--concurrency/);
    expect(() => loadSlaveConfig({ master: 'http://x', token: 'short' }, env)).toThrow(/--token/);
    expect(() => loadSlaveConfig({ master: 'http://x', indexUrl: 'file:///x' }, env)).toThrow(/--index-url/);
    expect(() => loadSlaveConfig({ master: 'http://x', name: '../x' }, env)).toThrow(/--name/);
  });
});

describe('outbox', () => {
  it('keeps complete entries with their report and drops half-written ones', () => {
    const ob = new Outbox(dir);
    const rep = join(dir, 'rep');
    mkdirSync(join(rep, 'raw', 'install'), { recursive: true });
    writeFileSync(join(rep, 'report.json'), '{}');
    writeFileSync(join(rep, 'raw', 'install', 'strace.log'), 'x');
    ob.add({ leaseId: 'L1', jobId: 'J1', outcome: { kind: 'report' } }, rep);
    ob.add({ leaseId: 'L/2', jobId: 'J2', outcome: { kind: 'error', code: 'PYTI_INPUT_MALFORMED', message: 'm', retry: false } });
    mkdirSync(join(ob.dir, 'half-written'));
    expect(ob.leaseIds().sort()).toEqual(['L/2', 'L1']);
    expect(readdirSync(ob.dir)).toHaveLength(2);
    const e = ob.entries().find((x) => x.leaseId === 'L1')!;
    expect(listFiles(join(e.dir, 'report', 'raw'))).toEqual(['install/strace.log']);
    ob.remove('L1');
    expect(ob.leaseIds()).toEqual(['L/2']);
  });
});

describe('data directory lock and job outcomes', () => {
  it('lets one slave hold a data directory', () => {
    const release = lockDataDir(dir);
    writeFileSync(join(dir, 'slave.lock'), '1'); // pid 1 is alive
    expect(code(() => lockDataDir(dir))).toBe('PYTI_CONFIG_INVALID');
    writeFileSync(join(dir, 'slave.lock'), '999999999'); // gone
    const again = lockDataDir(dir);
    again();
    release();
  });
  it('ends input problems without retry and retries infrastructure trouble', () => {
    expect(errorOutcome(new PytiError('PYTI_INDEX_NOT_FOUND', 'x')).retry).toBe(false);
    expect(errorOutcome(new PytiError('PYTI_INPUT_UNSAFE_PATH', 'x')).retry).toBe(false);
    expect(errorOutcome(new PytiError('PYTI_INDEX_HASH_MISMATCH', 'x')).retry).toBe(false);
    expect(errorOutcome(new PytiError('PYTI_INDEX_HOST_REFUSED', 'redirect to http://127.0.0.1:9')).retry).toBe(false);
    expect(errorOutcome(new PytiError('PYTI_INDEX_UNREACHABLE', 'x')).retry).toBe(true);
    expect(errorOutcome(new Error('ENOSPC'))).toMatchObject({ code: 'PYTI_SLAVE_FAILED', retry: true });
  });
});

describe('checking what the index served', () => {
  const dist = (name: string, version: string) => ({ name, version, filename: `${name}-${version}.tar.gz` });
  it('accepts the project and version asked for, however they are spelt', () => {
    expect(() => checkServedDist({ project: 'Idx_App', version: '1.0' }, dist('idx-app', '1.0.0'))).not.toThrow();
    expect(() => checkServedDist({ project: 'zope.interface', version: '6.1' }, dist('zope-interface', '6.1'))).not.toThrow();
    expect(() => checkServedDist({ project: 'a', version: '2.0rc1' }, dist('A', '2.0rc1'))).not.toThrow();
  });
  it('refuses another project or version under the name asked for, without retry', () => {
    for (const [p, v, d] of [['idx-app', '1.0', dist('evil', '1.0')], ['idx-app', '1.0', dist('idx-app', '1.1')], ['idx-app', '1.0', dist('idx-app', '10')]] as const) {
      let err: unknown;
      try {
        checkServedDist({ project: p, version: v }, d);
      } catch (e) {
        err = e;
      }
      expect((err as PytiError).code).toBe('PYTI_INDEX_MISMATCH');
      expect(errorOutcome(err)).toMatchObject({ kind: 'error', code: 'PYTI_INDEX_MISMATCH', retry: false });
    }
  });
});
