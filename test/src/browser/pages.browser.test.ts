/**
 * The master's pages in a real browser (Debian's chromium, headless, driven by playwright-core)
 * against a real master and a real bwrap slave, in this process:
 *
 * - live progress: an audit page and the list, opened while the audit is queued, follow it to
 *   running and done without being reloaded by the user;
 * - two releases of `diffdemo`: 1.1 adds a network call at import, and its audit has the network
 *   finding 1.0's has not (the page-level diff builds on this pair);
 * - the list and an audit's page render, with links between them (screenshots for the README);
 * - hostile metadata (the `hostile-markup` sdist: payloads in summary, author, description, URLs,
 *   test names, tracebacks and file names; the audit page's metadata panel shows them as text) and a hostile slave (payloads in every free-text field
 *   of its report, progress events, artifact names and error messages): the payloads show as text
 *   and nothing runs or is injected into the DOM.
 *
 * Skipped with a message only when chromium or bwrap is missing outside CI; under CI=true a missing
 * browser fails the run.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { AuditDetail } from '@pyti/master';
import type { BrowserKit } from './browser-kit.js';
import { ROGUE_SLAVE, type BrowserCluster } from './browser-cluster.js';
import { useBrowserSuite } from './browser-suite.js';
import { ARTIFACT_NAMES, PAYLOADS, RogueSlave, poisonReport } from './rogue-slave.js';

jest.setTimeout(10 * 60_000);

const suite = useBrowserSuite('pages.browser.test.ts', { slave: false }); // the slave starts in the first test
let skip: string | null = null;
let cluster: BrowserCluster;
let kit: BrowserKit;
const ids: Record<string, string> = {};

interface ReportFinding { rule: string; severity: string; title: string; phase: string }
const findingsOf = async (id: string): Promise<ReportFinding[]> => ((await cluster.client.reportJson(id)) as { findings: ReportFinding[] }).findings;

beforeAll(() => {
  ({ skip, cluster, kit } = suite);
});

describe('the master pages in chromium', () => {
  it('an audit page and the list follow an audit from queued to done without a reload', async () => {
    if (skip) return;
    const queued = await cluster.submitFixture('diffdemo-1.1');
    ids.flagged = queued.id;
    expect(queued.state).toBe('queued');
    const page = await kit.open(`/audits/${queued.id}`);
    await expect(page.locator('#live-state').textContent()).resolves.toBe('queued');
    const list = await kit.open('/', await kit.newPage());
    await expect(list.locator(`#audit-${queued.id}`).getAttribute('data-state')).resolves.toBe('queued');
    // A marker in each document: a reload (by the user or not) would drop it.
    await page.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });
    await list.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });

    cluster.startSlave();
    // Meanwhile the other audits: 1.0 of the same project and the hostile-markup package.
    ids.clean = (await cluster.submitFixture('diffdemo-1.0')).id;
    ids.hostile = (await cluster.submitFixture('hostile-markup')).id;

    // Both pages poll every 2 s; the audit runs for several seconds: each must catch it running.
    await Promise.all([
      page.waitForFunction(() => /^running on bwrap-1/.test(document.getElementById('live-state')?.textContent ?? ''), undefined, { timeout: 120_000, polling: 250 }),
      list.waitForFunction((id) => document.getElementById(`audit-${id}`)?.getAttribute('data-state') === 'running', queued.id, { timeout: 120_000, polling: 250 }),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('#events li').length > 0, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await list.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);

    // When it ends, the audit page reloads itself and shows the verdict and the report.
    const done = await cluster.waitDone(queued.id);
    expect(done.state).toBe('done');
    await page.waitForFunction((v) => document.querySelector('header h1')?.textContent?.includes(v) ?? false, done.verdict!.toUpperCase(), { timeout: 30_000 });
    expect(await page.locator('iframe#report').count()).toBe(1);
    await list.waitForFunction((id) => document.getElementById(`audit-${id}`)?.getAttribute('data-state') === 'done', queued.id, { timeout: 30_000 });
    expect(await list.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await kit.assertNoInjection(page);
    await kit.assertNoInjection(list);
    await list.close();
  });

  it('two releases of diffdemo: 1.1 tries the network at import, 1.0 does not', async () => {
    if (skip) return;
    const [v10, v11] = [await cluster.waitDone(ids.clean!), await cluster.waitDone(ids.flagged!)];
    expect([v10.project, v10.version, v10.state]).toEqual(['diffdemo', '1.0', 'done']);
    expect([v11.project, v11.version, v11.state]).toEqual(['diffdemo', '1.1', 'done']);
    const net = (fs: ReportFinding[]) => fs.filter((f) => f.rule === 'network-attempt' || f.rule === 'dns-lookup');
    const [f10, f11] = [await findingsOf(v10.id), await findingsOf(v11.id)];
    expect(net(f10)).toEqual([]);
    expect(net(f11).filter((f) => f.phase === 'import').map((f) => f.title)).toEqual(expect.arrayContaining([expect.stringContaining('127.0.0.1:9')]));
    expect(net(f11).map((f) => `${f.title}`).join('\n')).toContain('diffdemo-beacon.invalid');
    expect(v10.verdict).toBe('clean');
    expect(v11.verdict).not.toBe('clean');
    // 1.1 also brings a test that fails (greet does not strip): its result is test-fail, 1.0's pass.
    expect([v10.result, v11.result]).toEqual(['pass', 'test-fail']);
  });

  it('the list links to each audit; the flagged audit shows its network finding (screenshots)', async () => {
    if (skip) return;
    await cluster.waitDone(ids.hostile!); // the list at rest for its screenshot
    const page = await kit.open('/');
    const rows = page.locator('tbody#audits tr');
    await expect(rows.count()).resolves.toBe(3);
    await expect(page.locator('header').innerText()).resolves.toMatch(/\d+ audits/);
    await kit.assertNoInjection(page);
    await kit.screenshot('audit-list');

    // Each row links its project name to the project's page and its version to the audit.
    await expect(page.locator(`#audit-${ids.flagged} a`).first().getAttribute('href')).resolves.toBe('/projects/diffdemo');
    kit.clicks = 0;
    await kit.clickLink('1.1', page);
    expect(new URL(page.url()).pathname).toBe(`/audits/${ids.flagged}`);
    await expect(page.locator('header h1').innerText()).resolves.toMatch(/^diffdemo 1\.1 — (SUSPICIOUS|MALICIOUS)$/);
    const text = await kit.visibleText(page);
    expect(text).toContain('127.0.0.1:9');
    expect(text).toMatch(/import tries the network/);
    await kit.assertNoInjection(page);
    await kit.screenshot('audit-flagged');
    // Further down, the embedded report with the finding and its evidence.
    await page.frameLocator('iframe#report').getByText(/import tries the network: 127\.0\.0\.1:9/).first().scrollIntoViewIfNeeded();
    await kit.screenshot('audit-report');
    await page.evaluate(() => window.scrollTo(0, 0));

    await kit.clickLink('← all audits', page);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(kit.clicks).toBe(2);
  });

  it('hostile metadata, test names, tracebacks and file names show as text and run nothing', async () => {
    if (skip) return;
    const d = await cluster.waitDone(ids.hostile!);
    expect(d.state).toBe('done');
    const report = (await cluster.client.reportJson(d.id)) as { result: string; tests?: { failed: number; passed: number } };
    // The fixture's own failing test ran (its message carries the payloads).
    expect(report.tests?.failed).toBe(1);
    const page = await kit.open(`/audits/${d.id}`);
    // Every kind of payload reached the page and stayed text: metadata, file names written at import,
    // test ids, a failing test's message.
    const text = await kit.pageText(page);
    for (const shown of [
      `Summary ${PAYLOADS.img} ${PAYLOADS.script}`, // summary
      `/tmp/${PAYLOADS.img}`, '/tmp/<svg onload=window.__pwned=1>', // file names
      `test_shout_keeps_length[${PAYLOADS.script}]`, // a test id
      `line one ${PAYLOADS.script}`, // a failure message
    ]) expect({ shown, found: text.includes(shown) }).toEqual({ shown, found: true });
    expect(await kit.visibleText(page)).toContain(`/tmp/${PAYLOADS.img}`);
    await kit.assertNoInjection(page);

    // The metadata panel: summary, author, maintainer, licence, URLs and keywords as text; only the
    // https URL is a link; the description (markdown full of HTML) opens as preformatted text.
    const meta = page.locator('section.metadata');
    const metaText = await meta.innerText();
    for (const shown of [
      `summary\nSummary ${PAYLOADS.img} ${PAYLOADS.script}`, `author\n${PAYLOADS.script} pwned@example.invalid`, `maintainer\n${PAYLOADS.img}`,
      `licence\nMIT ${PAYLOADS.img}`, `home page\n${PAYLOADS.jsUrl}`, `Home: ${PAYLOADS.jsUrl}`, '<svg onload=window.__pwned=1>, <script>',
    ]) expect({ shown, found: metaText.includes(shown) }).toEqual({ shown, found: true });
    const metaLinks = await meta.locator('a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    // (The Docs URL holds spaces, so it is no URL: text. The Source URL is one, with a payload in its path.)
    expect(metaLinks).toEqual([expect.stringMatching(/^http:\/\/example\.invalid\/%22%3E%3Cscript%3E/)]);
    expect(metaText).toContain(`Docs ${PAYLOADS.img}: https://example.invalid/${PAYLOADS.img}`);
    await meta.locator('summary', { hasText: 'description' }).click();
    await expect(meta.locator('details pre').last().innerText()).resolves.toContain(`# Hostile ${PAYLOADS.script}\n\n${PAYLOADS.img}`);
    await kit.assertNoInjection(page);
    await page.frameLocator('iframe#report').getByText(PAYLOADS.img).first().scrollIntoViewIfNeeded();
    await kit.screenshot('audit-hostile');
    // The standalone report and the list, too.
    await kit.openChecked(`/api/v1/audits/${d.id}/report.html`);
    await kit.openChecked('/');
  });

  it('a hostile slave: payloads in progress, report, artifact names and errors show as text and run nothing', async () => {
    if (skip) return;
    const rogue = new RogueSlave(cluster.url, ROGUE_SLAVE.token);
    await rogue.register();
    // Two audits for the rogue's backend (qemu): one it answers with a report, one with an error.
    const forReport = await cluster.submitFixture('diffdemo-1.1', { backend: 'qemu' });
    const lease = await rogue.lease();
    expect(lease.jobId).toBe(forReport.id);
    await rogue.progress(lease.leaseId);

    // Live: the running page fetches the poisoned events and appends them (as text).
    const page = await kit.open(`/audits/${forReport.id}`);
    await rogue.progress(lease.leaseId);
    await page.waitForFunction((n) => document.querySelectorAll('#events li').length > n, 4, { timeout: 30_000 });
    expect(await kit.visibleText(page)).toContain(PAYLOADS.script);
    await kit.assertNoInjection(page);

    // The report: a real one (1.1's, from the bwrap slave) with payloads in every free-text field.
    const real = await cluster.client.reportJson(ids.flagged!);
    await rogue.completeWithReport(lease.leaseId, poisonReport(real));
    await page.waitForFunction(() => document.querySelector('iframe#report') !== null, undefined, { timeout: 30_000 });
    await page.waitForLoadState('load');
    const done: AuditDetail = await cluster.client.get(forReport.id);
    expect(done.state).toBe('done');
    expect(done.slave).toBe(ROGUE_SLAVE.name);
    const text = await kit.visibleText(page);
    expect(text).toContain(PAYLOADS.img); // in the artifact name, the prefetch summary and the report
    expect(text).not.toContain('The report is not available');
    await kit.assertNoInjection(page);
    await kit.openChecked(`/api/v1/audits/${forReport.id}/report.html`);
    await kit.openChecked(`/api/v1/audits/${forReport.id}`); // the JSON, as a browser shows it

    // Its artifacts: the trace opens as text; the HTML one is never served as HTML.
    await kit.open(`/audits/${forReport.id}`);
    await kit.clickLink(ARTIFACT_NAMES.trace);
    expect(await kit.visibleText()).toContain(`execve("/bin/sh", ["${PAYLOADS.script}"]) = 0`);
    await kit.assertNoInjection();
    const art = done.artifacts.find((a) => a.name === ARTIFACT_NAMES.html)!;
    const res = await kit.page.request.get(new URL(art.url, cluster.url).href);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).not.toMatch(/html|xml|svg/);
    expect(res.headers()['x-content-type-options']).toBe('nosniff');

    const forError = await cluster.submitFixture('diffdemo-1.0', { backend: 'qemu' });
    const lease2 = await rogue.lease();
    expect(lease2.jobId).toBe(forError.id);
    await rogue.completeWithError(lease2.leaseId);
    const errPage = await kit.open(`/audits/${forError.id}`);
    await expect(errPage.locator('header h1').innerText()).resolves.toMatch(/ERROR$/);
    expect(await kit.visibleText(errPage)).toContain(`guest died: ${PAYLOADS.script}`);
    await kit.assertNoInjection(errPage);
    await kit.openChecked('/');
  });
});

describe('the injection check itself', () => {
  it('catches each payload when a page does not escape it', async () => {
    if (skip) return;
    // A page written without escaping, as a broken renderer would: every payload must be reported.
    const payloads = [PAYLOADS.script, `<p title="${PAYLOADS.img}">`, `<a href="${PAYLOADS.jsUrl}">x</a>`, `<iframe src="about:blank"></iframe>`, `<svg onload="window.__pwned=1"></svg>`,
      // Blocked from running (a sandboxed frame), still injected: the DOM check finds the handler.
      `<iframe sandbox srcdoc="<img src=x onerror=window.__pwned=1>"></iframe>`];
    for (const p of payloads) {
      const page = await kit.newPage();
      await page.setContent(`<!doctype html><body>${p}</body>`);
      await page.waitForTimeout(100);
      const found = await kit.findInjections(page);
      expect({ payload: p, found: found.length > 0 }).toEqual({ payload: p, found: true });
      await page.close();
    }
    const page = await kit.newPage();
    // And an escaped page passes.
    await page.setContent(`<!doctype html><body><pre>${Object.values(PAYLOADS).join(' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')}</pre></body>`);
    kit.dialogs.length = 0;
    kit.errors.length = 0;
    expect(await kit.findInjections(page)).toEqual([]);
    await page.close();
  });
});
