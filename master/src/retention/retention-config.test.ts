// The retention policy's flags and environment: parsed strictly, validated once, frozen.
import { loadMasterConfig } from '../config.js';
import { parseByteSize, parseDuration } from '@pyti/common';

describe('retention config', () => {
  it('reads sizes and durations with units; flags win over the environment; the result is frozen', () => {
    expect([parseByteSize('1048576'), parseByteSize('500M'), parseByteSize('50G'), parseByteSize('1.5GiB'), parseByteSize('2 TB'), parseByteSize('1.5'), parseByteSize('lots')])
      .toEqual([1048576, 500 * 1024 ** 2, 50 * 1024 ** 3, 1.5 * 1024 ** 3, 2 * 1024 ** 4, null, null]);
    expect([parseDuration('90s'), parseDuration('6h'), parseDuration('30d'), parseDuration('2w'), parseDuration('30'), parseDuration('-1d')])
      .toEqual([90_000, 6 * 3_600_000, 30 * 86_400_000, 14 * 86_400_000, null, null]);
    const c = loadMasterConfig({ data: '/tmp/x', retentionMaxAge: '30d', gcInterval: '6h' }, { PYTI_RETENTION_MAX_AGE: '1d', PYTI_RETENTION_MAX_BYTES: '50G' });
    expect(c.retention).toEqual({ maxAgeMs: 30 * 86_400_000, maxTotalBytes: 50 * 1024 ** 3, graceMs: 3_600_000, gcIntervalMs: 6 * 3_600_000, pruneFlagged: false });
    expect(Object.isFrozen(c.retention)).toBe(true);
    expect(loadMasterConfig({ data: '/tmp/x' }, {}).retention).toEqual({ maxAgeMs: null, maxTotalBytes: null, graceMs: 3_600_000, gcIntervalMs: 0, pruneFlagged: false });
    expect(loadMasterConfig({ data: '/tmp/x' }, { PYTI_RETENTION_PRUNE_FLAGGED: '1' }).retention.pruneFlagged).toBe(true);
    expect(loadMasterConfig({ data: '/tmp/x', retentionPruneFlagged: false }, { PYTI_RETENTION_PRUNE_FLAGGED: '1' }).retention.pruneFlagged).toBe(false);
  });

  it('refuses what cannot be meant, naming the flag or variable', () => {
    const bad = (flags: Record<string, string>, env: Record<string, string> = {}) => {
      try {
        loadMasterConfig({ data: '/tmp/x', ...flags }, env);
      } catch (err) {
        return `${(err as { code: string }).code} ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(bad({ retentionMaxAge: '30' })).toMatch(/^PYTI_CONFIG_INVALID --retention-max-age: "30" is not a duration/);
    expect(bad({}, { PYTI_RETENTION_MAX_BYTES: 'big' })).toMatch(/^PYTI_CONFIG_INVALID PYTI_RETENTION_MAX_BYTES: "big" is not a size/);
    expect(bad({ gcGrace: '10s' })).toBe('PYTI_CONFIG_INVALID --gc-grace: 10s is below the minimum 1m');
    expect(bad({ retentionMaxAge: '30m' })).toBe('PYTI_CONFIG_INVALID --retention-max-age: 30m is shorter than the gc grace period (1h)');
    expect(bad({ gcInterval: '5s' })).toBe('PYTI_CONFIG_INVALID --gc-interval: 5s is below the minimum 1m');
    expect(bad({ gcInterval: 'off' })).toBe('accepted');
    expect(bad({}, { PYTI_RETENTION_PRUNE_FLAGGED: 'yes' })).toBe('PYTI_CONFIG_INVALID PYTI_RETENTION_PRUNE_FLAGGED: must be 1 or 0');
  });
});
