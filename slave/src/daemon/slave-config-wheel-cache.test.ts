// `pyti slave --wheel-cache-max / --wheel-cache-max-age`: defaults, flags over environment, clear refusals.
import { loadSlaveConfig, describeSlaveConfig, DEFAULT_WHEEL_CACHE_MAX_BYTES } from './slave-config.js';

const env = { PYTI_MASTER_URL: 'http://m', PYTI_SLAVE_TOKEN: 'slave-token-0123', PYTI_SLAVE_DATA: '/tmp/pyti-slave-x' };

describe('the slave\'s wheel cache policy', () => {
  it('defaults to 10 GiB and no age limit; takes flags over the environment; none lifts a limit', () => {
    expect(loadSlaveConfig({}, env).wheelCache).toEqual({ maxBytes: DEFAULT_WHEEL_CACHE_MAX_BYTES, maxAgeMs: null });
    expect(loadSlaveConfig({ wheelCacheMax: '2G' }, { ...env, PYTI_WHEEL_CACHE_MAX: '5G', PYTI_WHEEL_CACHE_MAX_AGE: '30d' }).wheelCache)
      .toEqual({ maxBytes: 2 * 1024 ** 3, maxAgeMs: 30 * 86_400_000 });
    const none = loadSlaveConfig({ wheelCacheMax: 'none' }, env);
    expect(none.wheelCache).toEqual({ maxBytes: null, maxAgeMs: null });
    expect(Object.isFrozen(none.wheelCache)).toBe(true);
    expect(describeSlaveConfig(loadSlaveConfig({ wheelCacheMaxAge: '2w' }, env))).toContain('wheel cache max 10.0 GiB, max age 2w');
  });

  it('refuses sizes and durations it cannot read, naming the flag or variable', () => {
    expect(() => loadSlaveConfig({ wheelCacheMax: 'huge' }, env)).toThrow('--wheel-cache-max: "huge" is not a size');
    expect(() => loadSlaveConfig({}, { ...env, PYTI_WHEEL_CACHE_MAX: '10K' })).toThrow('PYTI_WHEEL_CACHE_MAX: 10.0 KiB is below 1 MiB');
    expect(() => loadSlaveConfig({ wheelCacheMaxAge: '30' }, env)).toThrow('--wheel-cache-max-age: "30" is not a duration');
    expect(() => loadSlaveConfig({ wheelCacheMaxAge: '10m' }, env)).toThrow('--wheel-cache-max-age: 10m is below 1h');
  });
});
