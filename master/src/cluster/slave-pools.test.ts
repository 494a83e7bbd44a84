// Slaves' pools of ready VM guests on the cluster page: reported in heartbeats through the real
// command API of a real master on a socket, checked as untrusted input, shown (escaped) on /slaves.
import { jest } from '@jest/globals';
import { ManualClock } from '../queue/clock.js';
import { KIT_USER, MasterKit } from '../testing/master-socket-kit.js';

jest.setTimeout(60_000);

describe('pools of ready guests on the cluster page', () => {
  let k: MasterKit;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock();
    k = await MasterKit.start({}, { clock, stats: { everyMs: 0 } });
  });
  afterEach(() => k.close());

  const page = async (): Promise<string> => {
    const login = await k.request('GET', `/slaves?token=${KIT_USER}`, { token: null });
    const cookie = login.headers['set-cookie']!.split(';')[0]!;
    return (await k.request('GET', '/slaves', { token: null, headers: { cookie } })).body;
  };
  const row = (body: string, slave: string): string => body.slice(body.indexOf(`<tr id="slave-${slave}"`), body.indexOf('</tr>', body.indexOf(`<tr id="slave-${slave}"`)));

  it('shows each slave\'s ready guests per backend from its last heartbeat, and the total', async () => {
    await k.register('s1', 'host-one');
    await k.register('s2', 'host-two');
    expect(await k.rpc('s1', 'slave.heartbeat', { leases: [], draining: false, pools: [{ backend: 'qemu', size: 2, ready: 1 }, { backend: 'libvirt', size: 1, ready: 1 }] }))
      .toMatchObject({ lost: [] });
    let body = await page();
    expect(body).toContain('<th title="VM guests restored and waiting for the next jobs: ready/size per backend">ready guests</th>');
    expect(row(body, 's1')).toContain('<span class="tone-orange" data-backend="qemu" data-ready="1" data-size="2">qemu 1/2</span>');
    expect(row(body, 's1')).toContain('data-backend="libvirt" data-ready="1" data-size="1">libvirt 1/1</span>');
    expect(row(body, 's2')).toContain('<td class="pool">—</td>');
    expect(body).toContain('2 of 3 pooled VM guests ready');
    // The next heartbeat replaces the report; one without pools clears it.
    await k.rpc('s1', 'slave.heartbeat', { leases: [], draining: false, pools: [{ backend: 'qemu', size: 2, ready: 2 }] });
    body = await page();
    expect(row(body, 's1')).toContain('qemu 2/2');
    expect(row(body, 's1')).not.toContain('libvirt');
    await k.rpc('s1', 'slave.heartbeat', { leases: [], draining: false });
    expect(row(await page(), 's1')).toContain('<td class="pool">—</td>');
  });

  it('refuses pool reports of the wrong shape with PYTI_RPC_INVALID naming the field', async () => {
    await k.register('s1', 'host-one');
    const bad = async (pools: unknown) => (await k.rpcAnswer('s1', 'slave.heartbeat', { leases: [], draining: false, pools })).error;
    expect(await bad([{ backend: 'qemu', size: 1, ready: 2 }])).toMatchObject({ code: -32602, data: { code: 'PYTI_RPC_INVALID', field: 'pools.0.ready' } });
    expect(await bad([{ backend: '<b>x</b>', size: 1, ready: 1 }])).toMatchObject({ data: { code: 'PYTI_RPC_INVALID', field: 'pools.0.backend' } });
    expect(await bad([{ backend: 'qemu', size: 1e9, ready: 0 }])).toMatchObject({ data: { code: 'PYTI_RPC_INVALID', field: 'pools.0.size' } });
    expect(await bad(Array.from({ length: 17 }, () => ({ backend: 'qemu', size: 1, ready: 1 })))).toMatchObject({ data: { code: 'PYTI_RPC_INVALID', field: 'pools' } });
    expect(await bad('qemu')).toMatchObject({ data: { code: 'PYTI_RPC_INVALID', field: 'pools' } });
    expect(row(await page(), 's1')).toContain('<td class="pool">—</td>');
  });
});
