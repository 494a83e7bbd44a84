// `pyti slave --vm-pool N` (PYTI_VM_POOL): one waiting guest per job slot by default, within a
// quarter of the host's memory; flags over environment; clear refusals.
import { totalmem } from 'node:os';
import { defaultVmPool, describeSlaveConfig, loadSlaveConfig, POOL_GUEST_BUDGET_BYTES } from './slave-config.js';

const env = { PYTI_MASTER_URL: 'http://m', PYTI_SLAVE_TOKEN: 'slave-token-0123', PYTI_SLAVE_DATA: '/tmp/pyti-slave-x' };
const GiB = 1024 ** 3;

describe('the slave\'s pool of ready VM guests', () => {
  it('defaults to one per job slot, bounded by a quarter of the host memory at 512 MiB a guest', () => {
    expect(defaultVmPool(1, 24 * GiB)).toBe(1);
    expect(defaultVmPool(4, 24 * GiB)).toBe(4);
    expect(defaultVmPool(16, 8 * GiB)).toBe(4); // 2 GiB for waiting guests: 4 of 512 MiB
    expect(defaultVmPool(2, 1.5 * GiB)).toBe(0); // too small a host: no pool
    expect(loadSlaveConfig({ concurrency: 2 }, env).vmPool).toBe(Math.min(2, Math.floor(totalmem() / 4 / POOL_GUEST_BUDGET_BYTES)));
  });

  it('takes the flag over the environment, says it in the start-up line, and refuses what it cannot read', () => {
    expect(loadSlaveConfig({ vmPool: '3' }, { ...env, PYTI_VM_POOL: '0' }).vmPool).toBe(3);
    expect(loadSlaveConfig({}, { ...env, PYTI_VM_POOL: '0' }).vmPool).toBe(0);
    expect(describeSlaveConfig(loadSlaveConfig({ backend: ['qemu'], vmPool: '2' }, env))).toContain('VM pool 2');
    expect(describeSlaveConfig(loadSlaveConfig({ vmPool: '2' }, env))).not.toContain('VM pool');
    expect(() => loadSlaveConfig({ vmPool: 'lots' }, env)).toThrow('--vm-pool: "lots" is not a whole number from 0 to 16');
    expect(() => loadSlaveConfig({}, { ...env, PYTI_VM_POOL: '17' })).toThrow('PYTI_VM_POOL: "17" is not a whole number from 0 to 16');
  });
});
