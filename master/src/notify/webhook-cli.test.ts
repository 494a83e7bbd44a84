// `pyti webhook` against a real master, and webhooks limited to one subscription: only the audits
// that subscription submitted reach them (the subscription's uploads come from a change log and an
// index held in memory; the slave speaks the command API).
import { main } from '../cli/main.js';
import { cliIO, until } from '../testing/cli-test-kit.js';
import { KIT_USER, startKitMaster, startReceiver, type KitMaster, type Receiver } from '../testing/notify-kit.js';
import { MemoryChangelog, MemoryIndex } from '../subscriptions/subscription-test-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';

describe('pyti webhook and per-subscription webhooks (real master, real receiver)', () => {
  let k: KitMaster;
  let rx: Receiver;
  afterEach(async () => {
    await k?.close();
    await rx?.close();
  });

  async function cli(...args: string[]) {
    const io = cliIO();
    const code = await main(['webhook', ...args, '--master', k.url, '--token', KIT_USER], io);
    return { code, out: io.stdout, err: io.stderr };
  }

  it('adds, lists, shows the delivery log of, and removes webhooks', async () => {
    rx = await startReceiver((r) => (r.path === '/bad' ? { status: 500, body: 'broken\u001b[31m receiver' } : { status: 200 }));
    k = await startKitMaster({}, { notifications: { everyMs: 20, retryMs: 20, maxAttempts: 2, log: () => undefined } });
    const add = await cli('add', `${rx.url}/ok`, '--on', 'completed,flagged');
    expect(add.code).toBe(0);
    const [, id, secret] = /^added (wh\S+) +\S+ +all audits +on completed,flagged\nsecret ([0-9a-f]{64}) +\(shown once/.exec(add.out) ?? [];
    expect(id && secret).toBeTruthy();
    const bad = JSON.parse((await cli('add', `${rx.url}/bad`, '--json')).out);
    expect(bad).toMatchObject({ url: `${rx.url}/bad`, events: ['completed', 'flagged', 'regression'] });
    expect((await cli('list')).out.split('\n').filter(Boolean)).toEqual([
      `${id}  ${rx.url}/ok  all audits  on completed,flagged`, `${bad.id}  ${rx.url}/bad  all audits  on completed,flagged,regression`]);
    const { id: audit } = await k.audit('tool', '1.0', tinyReport('tool', '1.0', 'clean'));
    await until('the failed delivery', async () => ((await cli('deliveries', bad.id)).out.includes('failed') ? true : undefined));
    const log = (await cli('deliveries', bad.id)).out;
    // The receiver's escape sequence is not passed to the terminal.
    expect(log).toMatch(new RegExp(`^\\d+  \\S+  completed  audit ${audit}  failed  attempts 2  HTTP 500  HTTP 500: broken.?\\[31m receiver\\n$`));
    expect(log).not.toContain('\u001b');
    expect((await cli('deliveries', id!, '--limit', '5')).out).toMatch(new RegExp(`completed  audit ${audit}  sent  attempts 1  HTTP 200\\n$`));
    expect((await cli('remove', id!)).out).toMatch(/^removed wh/);
    expect((await cli('remove', id!))).toMatchObject({ code: 2, err: expect.stringMatching(/PYTI_WEBHOOK_NOT_FOUND/) });
    expect((await cli('add', 'gopher://x'))).toMatchObject({ code: 2, err: expect.stringMatching(/PYTI_WEBHOOK_INVALID: .*url: must be http or https, not gopher/) });
    expect((await cli('add', `${rx.url}/ok`, '--on', 'sometimes')).code).toBe(64);
    expect((await cli('list', '--limit', '3')).code).toBe(64);
  });

  it('sends a subscription\'s webhook only the audits that subscription submitted', async () => {
    rx = await startReceiver(() => ({ status: 200 }));
    const changelog = new MemoryChangelog(100);
    const index = new MemoryIndex();
    k = await startKitMaster({ pollMs: 100, follow: true }, {
      feeds: { changelog, resolve: index.resolve, rss: {}, log: () => undefined },
      notifications: { everyMs: 20, log: () => undefined },
    });
    expect((await k.api('POST', '/api/v1/subscriptions', { name: 'web', kind: 'projects', projects: ['flask'] })).status).toBe(201);
    const sub = (await k.api('POST', '/api/v1/webhooks', { url: `${rx.url}/web`, subscription: 'web' })).body;
    expect(sub.subscription).toBe('web');
    await until('the first poll', async () => ((await k.api('GET', '/api/v1/feed')).body.cursor ?? undefined));
    index.add('flask', '3.0', ['flask-3.0.tar.gz']);
    changelog.add('flask', '3.0', 'new-release');
    const [queued] = await until('the subscription\'s audit', async () => {
      const a = (await k.api('GET', '/api/v1/subscriptions/web/audits')).body.audits;
      return a.length === 1 ? a : undefined;
    });
    // The slave runs it, and an audit submitted by hand.
    await k.register('s1');
    const lease = (await k.rpc('s1', 'jobs.lease', { max: 1, waitMs: 0 })).result.jobs[0];
    expect(lease.jobId).toBe(queued.audit.id);
    expect((await k.rpc('s1', 'jobs.complete', { leaseId: lease.leaseId, outcome: { kind: 'report', report: tinyReport('flask', '3.0', 'suspicious'), artifacts: [] } })).result).toEqual({ stored: true });
    await k.audit('other', '1.0', tinyReport('other', '1.0', 'malicious'));
    await until('two deliveries (completed, flagged)', async () => (rx.got.length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got.map((g) => JSON.parse(g.body.toString())).map((b) => [b.event, b.audit.project]).sort()).toEqual([['completed', 'flask'], ['flagged', 'flask']]);
    // The subscription's Atom feed lists that audit alone.
    const feed = (await k.api('GET', '/feeds/subscriptions/web.atom')).text;
    expect(feed).toContain(`/audits/${queued.audit.id}</id>`);
    expect(feed.match(/<entry>/g)).toHaveLength(1);
  });
});
