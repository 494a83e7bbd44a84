// The pages in a real browser (Debian's chromium, headless, over the DevTools protocol) under the
// master's Content-Security-Policy: the nonce'd scripts run, the stylesheet and the embedded report's
// styles apply, an injected script does not run, and logging in and out through the form works.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig } from '../config.js';
import { CHROMIUM, HeadlessChromium } from '../testing/headless-chromium.js';
import { tinyReport } from '../testing/tiny-dists.js';
import { buildMasterApp, type MasterApp } from './master-app.js';

const SLAVE = 's1-token-0123456789';
const USER = 'user-token-0123456789';
const caps = { backends: ['bwrap'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 2 };

(CHROMIUM ? describe : describe.skip)('pages under the CSP, in chromium', () => {
  let dir: string;
  let m: MasterApp;
  let url: string;
  let browser: HeadlessChromium;
  let doneId: string;

  const post = async (path: string, token: string, body: unknown) => (await fetch(`${url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  })).json();
  const rpc = async (method: string, params: unknown) => (await post('/rpc/v1', SLAVE, { jsonrpc: '2.0', id: 1, method, params })).result;
  const cspViolations = () => browser.log.filter((l) => /Content Security Policy/i.test(l));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-csp-'));
    m = await buildMasterApp(loadMasterConfig({ data: dir, port: 0, slaveToken: [`s1:${SLAVE}`] }, { PYTI_USER_TOKEN: USER }), { sweepIntervalMs: 0 });
    url = (await m.listen()).replace(/\/$/, '');
    doneId = (await post('/api/v1/audits', USER, { project: 'done-pkg', version: '1.0' })).id;
    await rpc('slave.register', { protocolVersion: 1, version: '0.1.0', host: 'h', capabilities: caps });
    const lease = (await rpc('jobs.lease', { max: 1, waitMs: 0 })).jobs[0].leaseId;
    await rpc('jobs.complete', { leaseId: lease, outcome: { kind: 'report', report: tinyReport('done-pkg', '1.0', 'clean', 'pass'), artifacts: [] } });
    await post('/api/v1/audits', USER, { project: 'queued-pkg', version: '1.0' }); // keeps the list page live
    browser = await HeadlessChromium.open(CHROMIUM!);
  });
  afterAll(async () => {
    await browser?.close();
    await m?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in through the form, then runs the live list script and applies the stylesheet, with no CSP violation', async () => {
    await browser.goto(`${url}/`);
    expect(await browser.evaluate('document.title')).toBe('PyTI: log in');
    expect(await browser.evaluate('document.body.innerText')).not.toContain('queued-pkg');
    await browser.evaluate(`document.getElementById('token').value = ${JSON.stringify(USER)}; document.querySelector('form').submit(); true`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await browser.evaluate('location.pathname')).toBe('/');
    expect(await browser.evaluate('document.body.innerText')).toContain('queued-pkg');
    expect(await browser.evaluate('document.cookie')).toBe(''); // HttpOnly: scripts cannot read the token
    expect(await browser.evaluate('typeof pytiCells')).toBe('function'); // the nonce'd live script ran
    expect(await browser.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")).toBe('rgb(47, 54, 64)');
    expect(cspViolations()).toEqual([]);
  });

  it('styles the embedded report (its nonce) and sizes its frame (the page\'s script)', async () => {
    await browser.goto(`${url}/audits/${doneId}`, 800);
    expect(await browser.evaluate("getComputedStyle(document.getElementById('report').contentDocument.body).backgroundColor")).toBe('rgb(246, 247, 249)');
    expect(await browser.evaluate("document.getElementById('report').style.height")).toMatch(/^\d+px$/);
    expect(cspViolations()).toEqual([]);
  });

  it('refuses to run a script injected without the nonce', async () => {
    const ran = await browser.evaluate<unknown>("(function () { var s = document.createElement('script'); s.textContent = 'window.pwned = 1'; document.body.appendChild(s); return window.pwned === 1; })()");
    expect(ran).toBe(false);
    expect(cspViolations().length).toBeGreaterThan(0);
  });

  it('logs out with the button', async () => {
    await browser.goto(`${url}/`);
    await browser.evaluate("document.querySelector('footer form').submit(); true");
    await new Promise((r) => setTimeout(r, 1500));
    expect(await browser.evaluate('location.pathname')).toBe('/login');
    await browser.goto(`${url}/`);
    expect(await browser.evaluate('document.title')).toBe('PyTI: log in');
  });
});
