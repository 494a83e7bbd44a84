// One audit per file, through the user API on a real master (socket), the CLI and the command API: a
// re-submission of a file already audited (same bytes or same index file, same backend) returns that
// audit unless forced; an audit that failed on infrastructure or was cancelled is not reused.
import { cliIO } from '../testing/cli-test-kit.js';
import { KIT_USER, MasterKit } from '../testing/master-socket-kit.js';
import { tinyReport, tinyWheel } from '../testing/tiny-dists.js';
import { main } from '../cli/main.js';

describe('one audit per file (user API)', () => {
  let k: MasterKit;
  afterEach(async () => k?.close());

  const submit = (body: Record<string, unknown>) => k.request('POST', '/api/v1/audits', { body });
  const finish = async (slave: 's1' | 's2', report: unknown) => {
    const [job] = await k.lease(slave);
    expect(job).toBeDefined();
    await k.rpc(slave, 'jobs.complete', { leaseId: job!.leaseId, outcome: { kind: 'report', report, artifacts: [] } });
    return job!.jobId;
  };

  it('by name: the same file and backend returns the audit while queued and once done; another backend or force audits again', async () => {
    k = await MasterKit.start({ maxInfraRetries: 0 });
    await k.register('s1');
    const first = await submit({ project: 'Demo_Pkg', version: '1.0', priority: 1 });
    expect(first.status).toBe(202);
    expect(first.json()).toMatchObject({ state: 'queued', reused: false, priority: 1 });
    const id = first.json().id as string;

    // Queued: the same release (name spelled another way) is the same audit; a higher priority is kept.
    const again = await submit({ project: 'demo-pkg', version: '1.0', priority: 5 });
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ id, reused: true, state: 'queued', priority: 5 });
    // Another file of the release, another backend, or force: new audits.
    const wheel = await submit({ project: 'demo-pkg', version: '1.0', filename: 'demo_pkg-1.0-py3-none-any.whl' });
    const qemu = await submit({ project: 'demo-pkg', version: '1.0', backend: 'qemu' });
    const forced = await submit({ project: 'demo-pkg', version: '1.0', force: true });
    for (const r of [wheel, qemu, forced]) expect([r.status, r.json().reused]).toEqual([202, false]);
    expect(new Set([id, wheel.json().id, qemu.json().id, forced.json().id]).size).toBe(4);
    expect((await submit({ project: 'demo-pkg', version: '1.0', force: 'yes' })).json()).toMatchObject({ error: { code: 'PYTI_USAGE', message: expect.stringContaining('force') } });

    // Done (leased first: highest priority): a finished audit of the file is preferred to the forced one still queued.
    expect(await finish('s1', tinyReport('demo_pkg', '1.0', 'clean'))).toBe(id);
    const done = await submit({ project: 'demo-pkg', version: '1.0' });
    expect(done.status).toBe(200);
    expect(done.json()).toMatchObject({ id, reused: true, state: 'done', verdict: 'clean' });
    expect((await k.request('GET', `/api/v1/audits?state=queued`)).json().audits.map((a: { id: string }) => a.id).sort())
      .toEqual([wheel.json().id, qemu.json().id, forced.json().id].sort());
  });

  it('does not reuse an audit that failed on infrastructure or was cancelled', async () => {
    k = await MasterKit.start({ maxInfraRetries: 0 });
    await k.register('s1');
    const a = (await submit({ project: 'shaky', version: '2.0' })).json();
    await finish('s1', tinyReport('shaky', '2.0', 'error', 'error:boot-timeout'));
    expect((await k.request('GET', `/api/v1/audits/${a.id}`)).json()).toMatchObject({ state: 'done', result: 'error:boot-timeout' });
    const b = await submit({ project: 'shaky', version: '2.0' });
    expect([b.status, b.json().reused]).toEqual([202, false]);
    await k.request('POST', `/api/v1/audits/${b.json().id}/cancel`);
    expect((await k.request('GET', `/api/v1/audits/${b.json().id}`)).json().state).toBe('cancelled');
    const c = await submit({ project: 'shaky', version: '2.0' });
    expect([c.status, c.json().reused]).toEqual([202, false]);
    expect(new Set([a.id, b.json().id, c.json().id]).size).toBe(3);
  });

  it('uploads: the same bytes return their audit unless &force=1; other bytes are another audit', async () => {
    k = await MasterKit.start();
    const w = tinyWheel('upl', '1.0');
    const up = (bytes: Buffer, q = '') => k.request('POST', `/api/v1/audits/upload?filename=${w.filename}${q}`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    const first = await up(w.bytes);
    expect([first.status, first.json().reused]).toEqual([202, false]);
    const same = await up(w.bytes);
    expect(same.status).toBe(200);
    expect(same.json()).toMatchObject({ id: first.json().id, reused: true, source: 'upload' });
    const forced = await up(w.bytes, '&force=1');
    expect([forced.status, forced.json().reused]).toEqual([202, false]);
    expect(forced.json().id).not.toBe(first.json().id);
    const changed = await up(Buffer.from(tinyWheel('upl', '1.0').bytes.toString('latin1').replace('VALUE = 1', 'VALUE = 2'), 'latin1'));
    expect([changed.status, changed.json().reused]).toEqual([202, false]);
    expect((await up(w.bytes, '&force=maybe')).json()).toMatchObject({ error: { code: 'PYTI_USAGE' } });
  });

  it('pyti submit says an audit was reused, and --force audits again', async () => {
    k = await MasterKit.start();
    const conn = ['--master', k.url, '--token', KIT_USER];
    const one = cliIO();
    expect(await main(['submit', 'cli-demo==3.0', ...conn], one)).toBe(0);
    const id = one.stdout.split('\n')[0]!;
    expect(one.stderr).not.toContain('already audited');
    const two = cliIO();
    expect(await main(['submit', 'cli-demo==3.0', ...conn], two)).toBe(0);
    expect(two.stdout.split('\n')[0]).toBe(id);
    expect(two.stderr).toContain(`already audited: ${id} is an audit of the same file on the same backend (queued); --force audits it again`);
    const three = cliIO();
    expect(await main(['submit', 'cli-demo==3.0', '--force', ...conn], three)).toBe(0);
    expect(three.stdout.split('\n')[0]).not.toBe(id);
    expect(three.stderr).not.toContain('already audited');
  });
});
