// Webhooks against a real master and a real HTTP receiver on 127.0.0.1: signed bodies, retries with
// backoff when the receiver fails, bounded attempts, no redirects, the delivery log in the user API,
// and deliveries that survive a restart of the master.
import { createHmac } from 'node:crypto';
import { ManualClock } from '../queue/clock.js';
import { until } from '../testing/cli-test-kit.js';
import { startKitMaster, startReceiver, type KitMaster, type Receiver } from '../testing/notify-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';
import { verifySignature } from './webhook-signature.js';

const SECRET = 'webhook-secret-0123456789';
const FAST = { notifications: { everyMs: 20, retryMs: 60, maxAttempts: 3, timeoutMs: 500, log: () => undefined } };

const deliveries = async (k: KitMaster, id: string) => {
  const r = await k.api('GET', `/api/v1/webhooks/${id}/deliveries`);
  expect(r.status).toBe(200);
  return r.body.deliveries as any[];
};

describe('webhooks (real master, real receiver)', () => {
  let k: KitMaster;
  let rx: Receiver;
  afterEach(async () => {
    await k?.close();
    await rx?.close();
  });

  it('signs each body with the webhook secret, retries a failing receiver with backoff, and logs every delivery', async () => {
    // The receiver fails the first request to /hook, then takes everything.
    rx = await startReceiver((r, n) => (r.path === '/hook' && n === 1 ? { status: 503, body: 'busy, try later' } : { status: 204 }));
    k = await startKitMaster({}, FAST);
    const created = await k.api('POST', '/api/v1/webhooks', { url: `${rx.url}/hook`, secret: SECRET });
    expect(created).toMatchObject({ status: 201, body: { url: `${rx.url}/hook`, subscription: null, events: ['completed', 'flagged', 'regression'], secret: SECRET } });
    const hook = created.body.id as string;
    const flaggedOnly = (await k.api('POST', '/api/v1/webhooks', { url: `${rx.url}/flagged`, events: ['flagged'] })).body;
    expect(flaggedOnly.secret).toMatch(/^[0-9a-f]{64}$/);
    // The secret is shown once: not in the list.
    expect(JSON.stringify((await k.api('GET', '/api/v1/webhooks')).body)).not.toContain(SECRET);

    const first = await k.audit('tool', '1.0', tinyReport('tool', '1.0', 'clean'));
    const log = await until('the completed delivery', async () => {
      const d = await deliveries(k, hook);
      return d.length === 1 && d[0].state === 'sent' ? d : undefined;
    });
    expect(log[0]).toMatchObject({ event: 'completed', auditId: first.id, attempts: 2, responseCode: 204, lastError: null });
    const hits = rx.got.filter((g) => g.path === '/hook');
    expect(hits).toHaveLength(2);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(55);
    for (const h of hits) {
      expect(h.headers['content-type']).toBe('application/json');
      expect(verifySignature(SECRET, h.body, h.headers['x-pyti-signature'] as string)).toBe(true);
      expect(h.headers['x-pyti-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`);
      expect(h.headers['x-pyti-delivery']).toBe(String(log[0].id));
      expect(h.headers['x-pyti-event']).toBe('completed');
      expect(Math.abs(Number(h.headers['x-pyti-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    }
    expect(verifySignature('another-secret-0123456789', hits[0]!.body, hits[0]!.headers['x-pyti-signature'] as string)).toBe(false);
    expect(JSON.parse(hits[0]!.body.toString())).toMatchObject({
      event: 'completed', audit: { id: first.id, project: 'tool', version: '1.0', verdict: 'clean', result: 'pass', url: `${k.url}/audits/${first.id}` },
    });
    expect(rx.got.filter((g) => g.path === '/flagged')).toHaveLength(0);

    // The next release is suspicious: completed, flagged and a regression against 1.0.
    const second = await k.audit('tool', '1.1', tinyReport('tool', '1.1', 'suspicious'));
    await until('three deliveries of 1.1', async () => ((await deliveries(k, hook)).filter((d) => d.auditId === second.id && d.state === 'sent').length === 3 ? true : undefined));
    const bodies = rx.got.filter((g) => g.path === '/hook').slice(2).map((g) => JSON.parse(g.body.toString()));
    expect(bodies.map((b) => b.event).sort()).toEqual(['completed', 'flagged', 'regression']);
    const regression = bodies.find((b) => b.event === 'regression');
    expect(regression).toMatchObject({ audit: { id: second.id, verdict: 'suspicious' }, previous: { id: first.id, version: '1.0', regressed: true } });
    expect(regression.previous.reasons).toEqual(['verdict suspicious (the previous release was clean)', 'new finding: dns-lookup']);
    const flagged = await until('the flagged-only webhook', async () => {
      const d = await deliveries(k, flaggedOnly.id);
      return d.length === 1 && d[0].state === 'sent' ? d : undefined;
    });
    expect(flagged[0]).toMatchObject({ event: 'flagged', auditId: second.id, attempts: 1 });
    const fb = rx.got.find((g) => g.path === '/flagged')!;
    expect(verifySignature(flaggedOnly.secret, fb.body, fb.headers['x-pyti-signature'] as string)).toBe(true);
  });

  it('gives up after its attempts, follows no redirect, does not retry a refusal, and times out a silent receiver', async () => {
    rx = await startReceiver((r) => (r.path === '/down' ? { status: 500, body: 'x'.repeat(100_000) }
      : r.path === '/moved' ? { status: 302, headers: { location: '/elsewhere' } }
        : r.path === '/gone' ? { status: 410, body: 'no such hook' }
          : r.path === '/silent' ? { status: 200, hang: true } : { status: 200 }));
    k = await startKitMaster({}, FAST);
    const ids: Record<string, string> = {};
    for (const p of ['down', 'moved', 'gone', 'silent']) ids[p] = (await k.api('POST', '/api/v1/webhooks', { url: `${rx.url}/${p}`, events: ['completed'] })).body.id;
    await k.audit('tool', '1.0', tinyReport('tool', '1.0', 'clean'));
    const final = async (p: string) => until(`${p} to fail`, async () => {
      const d = await deliveries(k, ids[p]!);
      return d[0]?.state === 'failed' ? d[0] : undefined;
    });
    const down = await final('down');
    expect(down).toMatchObject({ attempts: 3, responseCode: 500, nextAttemptAt: null });
    expect(down.lastError.length).toBeLessThan(320);
    const downs = rx.got.filter((g) => g.path === '/down');
    expect(downs).toHaveLength(3);
    // Backoff: 60 ms, then 120 ms.
    expect(downs[2]!.at - downs[1]!.at).toBeGreaterThan(downs[1]!.at - downs[0]!.at);
    expect(await final('moved')).toMatchObject({ attempts: 1, responseCode: 302, lastError: expect.stringMatching(/redirects are not followed/) });
    expect(await final('gone')).toMatchObject({ attempts: 1, responseCode: 410, lastError: 'HTTP 410: no such hook' });
    expect(await final('silent')).toMatchObject({ attempts: 3, responseCode: null, lastError: 'no answer within 500 ms' });
    expect(rx.got.filter((g) => g.path === '/elsewhere')).toHaveLength(0);
  });

  it('keeps undelivered notifications across a restart of the master', async () => {
    rx = await startReceiver(() => ({ status: 200 }));
    const port = rx.port;
    await rx.close(); // the receiver is away: connections are refused
    const clock = new ManualClock();
    const quiet = { everyMs: 20, retryMs: 60_000, maxAttempts: 5, log: () => undefined };
    k = await startKitMaster({}, { clock, notifications: quiet });
    const hook = (await k.api('POST', '/api/v1/webhooks', { url: `http://127.0.0.1:${port}/hook`, events: ['completed'] })).body.id;
    const { id } = await k.audit('tool', '1.0', tinyReport('tool', '1.0', 'clean'));
    const failed = await until('a refused attempt', async () => {
      const d = await deliveries(k, hook);
      return d[0]?.attempts === 1 ? d[0] : undefined;
    });
    expect(failed).toMatchObject({ state: 'pending', responseCode: null, lastError: expect.stringMatching(/ECONNREFUSED/) });
    expect(Date.parse(failed.nextAttemptAt) - clock.now()).toBe(60_000);
    const dir = k.dir;
    await k.close(true);
    rx = await startReceiver(() => ({ status: 200 }), port);
    // A minute later the master starts again on the same data: the delivery is still there, and goes.
    const later = new ManualClock(clock.now() + 61_000);
    k = await startKitMaster({}, { clock: later, notifications: quiet }, dir);
    const sent = await until('the delivery after the restart', async () => {
      const d = await deliveries(k, hook);
      return d[0]?.state === 'sent' ? d[0] : undefined;
    });
    expect(sent).toMatchObject({ auditId: id, attempts: 2, responseCode: 200, lastError: null });
    expect(rx.got).toHaveLength(1);
    expect(JSON.parse(rx.got[0]!.body.toString())).toMatchObject({ event: 'completed', audit: { id } });
  });

  it('refuses bad webhooks with clear codes, and needs the user token', async () => {
    k = await startKitMaster();
    const bad = async (body: unknown) => (await k.api('POST', '/api/v1/webhooks', body)).body.error;
    expect(await bad({ url: 'ftp://127.0.0.1/x' })).toEqual({ code: 'PYTI_WEBHOOK_INVALID', message: 'url: must be http or https, not ftp' });
    expect((await bad({ url: 'http://u:p@127.0.0.1/x' })).message).toMatch(/^url: must not carry credentials/);
    expect((await bad({ url: 'not a url' })).message).toMatch(/^url: "not a url" is not an absolute URL/);
    expect((await bad({ url: 'http://127.0.0.1/', events: ['finished'] })).message).toMatch(/^events: must be a non-empty list of completed, flagged, regression/);
    expect((await bad({ url: 'http://127.0.0.1/', subscription: 'nope' })).message).toBe('subscription: no subscription named "nope"');
    expect((await bad({ url: 'http://127.0.0.1/', secret: 'short' })).message).toMatch(/^secret: must be 16-256/);
    expect((await bad({ url: 'http://127.0.0.1/', extra: 1 })).message).toMatch(/^extra: is not a webhook field/);
    expect((await k.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1/' }, null)).status).toBe(401);
    expect((await k.api('GET', '/api/v1/webhooks', undefined, null)).status).toBe(401);
    expect(await k.api('GET', '/api/v1/webhooks/whnope1234/deliveries')).toMatchObject({ status: 404, body: { error: { code: 'PYTI_WEBHOOK_NOT_FOUND' } } });
    const w = (await k.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/x' })).body;
    expect((await k.api('DELETE', `/api/v1/webhooks/${w.id}`)).body).toMatchObject({ id: w.id });
    expect((await k.api('GET', `/api/v1/webhooks/${w.id}`)).status).toBe(404);
  });
});
