// A page's own form post (outside /api/) through requirePageWrite, on a real Fastify server: it needs
// the same origin and the user token (cookie or Bearer), and is refused before its body is read.
import Fastify, { type FastifyInstance } from 'fastify';
import { TokenAuthority } from '../auth.js';
import { requirePageWrite } from './page-write-guard.js';

const USER = 'user-token-0123456789';

describe('requirePageWrite', () => {
  let app: FastifyInstance;
  let url: string;
  let handled = 0;
  beforeAll(async () => {
    app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, b, done) => done(null, b));
    app.post('/slaves/:name/drain', { onRequest: requirePageWrite(new TokenAuthority({ user: USER, slaves: {} })) }, async () => {
      handled++;
      return { drained: true };
    });
    url = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/\/$/, '');
  });
  afterAll(() => app.close());

  const post = (headers: Record<string, string>) => fetch(`${url}/slaves/a/drain`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'x=1' });

  it('runs the form with the cookie from a page of the same master', async () => {
    const r = await post({ origin: url, cookie: `pyti_token=${USER}` });
    expect(r.status).toBe(200);
    expect(handled).toBe(1);
  });

  it('refuses another site (403 PYTI_CSRF) and a missing or wrong token (401 PYTI_AUTH), running nothing', async () => {
    for (const [headers, status, code] of [
      [{ origin: 'http://evil.invalid', cookie: `pyti_token=${USER}` }, 403, 'PYTI_CSRF'],
      [{ 'sec-fetch-site': 'cross-site', cookie: `pyti_token=${USER}` }, 403, 'PYTI_CSRF'],
      [{ cookie: `pyti_token=${USER}` }, 403, 'PYTI_CSRF'],
      [{ origin: url }, 401, 'PYTI_AUTH'],
      [{ origin: url, cookie: 'pyti_token=wrong-token-000' }, 401, 'PYTI_AUTH'],
    ] as const) {
      const r = await post(headers);
      expect(r.status).toBe(status);
      expect((await r.json()).error.code).toBe(code);
    }
    expect(handled).toBe(1);
  });
});
