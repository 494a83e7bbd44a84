/**
 * Project history, release diff, trace viewer and raw trace lines in a real browser (Debian's
 * chromium driven by playwright-core) against a real master and bwrap slave: two releases of
 * `diffdemo`, where 1.1 adds a network call at import (a lookup of `diffdemo-beacon.invalid` and a
 * connection to 127.0.0.1:9) and a failing test.
 *
 * - the project page lists both releases, newest first, with verdicts and a link to their diff;
 * - the diff page shows the new network target, DNS name, findings and test failure of 1.1;
 * - the flagged 1.1 audit says what is new since 1.0;
 * - the trace viewer separates the package's activity from its tooling's, counts and pages its rows,
 *   folds and unfolds the process tree, and links each row to its raw trace line, highlighted;
 * - the journey: from the list to the raw trace line that proves the network call in four
 *   clicks.
 *
 * Every page is checked for injected content (assertNoInjection). Screenshots: project, diff,
 * trace-viewer, raw-line.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { useBrowserSuite } from './browser-suite.js';

jest.setTimeout(10 * 60_000);

const s = useBrowserSuite('history.browser.test.ts');
const ids = { v10: '', v11: '' };
/** The import trace line with 1.1's connection to 127.0.0.1:9 (the evidence of its finding). */
let connectLine = 0;

interface Evidence { phase: string; line: number; summary: string }
interface Finding { rule: string; phase: string; title: string; evidence?: Evidence[] }

beforeAll(async () => {
  if (s.skip) return;
  ids.v10 = (await s.cluster.submitFixture('diffdemo-1.0')).id;
  ids.v11 = (await s.cluster.submitFixture('diffdemo-1.1')).id;
  const [v10, v11] = await Promise.all([s.cluster.waitDone(ids.v10), s.cluster.waitDone(ids.v11)]);
  expect([v10.state, v10.verdict, v11.state, v11.verdict]).toEqual(['done', 'clean', 'done', 'suspicious']);
  const report = (await s.cluster.client.reportJson(ids.v11)) as { findings: Finding[] };
  const finding = report.findings.find((f) => f.rule === 'network-attempt' && f.phase === 'import' && f.title.includes('127.0.0.1:9'));
  connectLine = finding?.evidence?.[0]?.line ?? 0;
  expect(connectLine).toBeGreaterThan(0);
});

const path = (p: Page): string => { const u = new URL(p.url()); return `${u.pathname}${u.search}`; };
const texts = (p: Page, selector: string): Promise<string[]> => p.locator(selector).allInnerTexts();

describe('project history and release diff in chromium', () => {
  it('the project page: both releases newest first, with verdicts, results and the link to their diff (screenshot)', async () => {
    if (s.skip) return;
    const { kit } = s;
    const page = await kit.openChecked('/projects/diffdemo');
    await expect(page.locator('header h1').innerText()).resolves.toBe('diffdemo');
    await expect(page.locator('header .summary').innerText()).resolves.toContain('1.1 adds a network call at import');
    await expect(page.locator('header').innerText()).resolves.toContain('2 releases · 2 audits');
    const releases = await texts(page, 'section.release h2');
    expect(releases).toEqual([expect.stringMatching(/^1\.1 · suspicious \(1 audit\) what changed since 1\.0$/), expect.stringMatching(/^1\.0 · clean \(1 audit\)$/)]);
    const row11 = await page.locator('#release-1\\.1 tbody tr').innerText();
    const row10 = await page.locator('#release-1\\.0 tbody tr').innerText();
    expect(row11).toMatch(new RegExp(`${ids.v11}\\s+diffdemo-1\\.1\\.tar\\.gz\\s+done\\s+suspicious · score \\d+\\s+test-fail\\s+[1-9]\\d*\\s+bwrap`));
    expect(row10).toMatch(new RegExp(`${ids.v10}\\s+diffdemo-1\\.0\\.tar\\.gz\\s+done\\s+clean\\s+pass\\s+0\\s+bwrap`));
    await expect(page.locator('#release-1\\.1 tbody tr').getAttribute('class')).resolves.toBe('tone-orange');
    await expect(page.locator('#release-1\\.0 tbody tr').getAttribute('class')).resolves.toBe('tone-green');
    await kit.screenshot('project');

    // Each audit links to its page; the release links to the diff with the one before.
    await kit.clickLink(ids.v10, page);
    expect(path(page)).toBe(`/audits/${ids.v10}`);
    await page.goBack();
    await kit.clickLink('what changed since 1.0', page);
    expect(path(page)).toBe(`/projects/diffdemo/diff?from=${ids.v10}&to=${ids.v11}`);
    await kit.assertNoInjection(page);
    // The form compares any two audits: from 1.1 to 1.0, the network call is gone.
    await kit.open('/projects/diffdemo');
    await page.locator('select[name=from]').selectOption(ids.v11);
    await page.locator('select[name=to]').selectOption(ids.v10);
    await Promise.all([page.waitForURL(/\/diff\?/), page.getByRole('button', { name: 'diff' }).click()]);
    expect(path(page)).toBe(`/projects/diffdemo/diff?from=${ids.v11}&to=${ids.v10}`);
    await expect(page.locator('header h1').innerText()).resolves.toBe('diffdemo: 1.1 → 1.0');
    const network = page.locator('section.diff-part', { has: page.getByRole('heading', { name: 'Network targets' }) });
    await expect(network.locator('ul.diff-removed').innerText()).resolves.toContain('connect 127.0.0.1:9/tcp');
    expect(await network.locator('ul.diff-added').count()).toBe(0);
    await kit.assertNoInjection(page);
  });

  it('the diff page, by versions: 1.1 adds the connection to 127.0.0.1:9, the lookup of diffdemo-beacon.invalid, their findings and a test failure (screenshot)', async () => {
    if (s.skip) return;
    const { kit } = s;
    const page = await kit.openChecked('/projects/diffdemo/diff?from=1.0&to=1.1');
    await expect(page.locator('header h1').innerText()).resolves.toBe('diffdemo: 1.0 → 1.1');
    const part = (title: string) => page.locator('section.diff-part', { has: page.getByRole('heading', { name: title, exact: true }) });
    const added = (title: string) => part(title).locator('ul.diff-added').innerText();
    await expect(added('Network targets')).resolves.toMatch(/import\s+connect 127\.0\.0\.1:9\/tcp/);
    await expect(added('DNS names looked up')).resolves.toMatch(/import\s+diffdemo-beacon\.invalid/);
    const findings = await added('Findings');
    expect(findings).toMatch(/HIGH network-attempt import import tries the network: 127\.0\.0\.1:9\s+connect 127\.0\.0\.1:9\/tcp/);
    expect(findings).toMatch(/HIGH dns-lookup import import looks up diffdemo-beacon\.invalid/);
    // 1.0 had no finding: nothing is gone.
    expect(await part('Findings').locator('ul.diff-removed').count()).toBe(0);
    const tests = await part('Tests').innerText();
    expect(tests).toMatch(/2 passed, 0 failing, 0 skipped of 2 → 2 passed, 1 failing, 0 skipped of 3/);
    await expect(part('Tests').locator('ul.diff-added').innerText()).resolves.toBe('tests/test_diffdemo.py::test_greet_strips');
    expect(tests).toMatch(/removed tests \(1\)\s+tests\/test_diffdemo\.py::test_version_is_1_0/);
    const facts = await page.locator('table.diff-facts').innerText();
    expect(facts).toMatch(/verdict\s+clean\s+suspicious/);
    expect(facts).toMatch(/result\s+pass\s+test-fail/);
    // Added lines are in the warning colour.
    const colour = await part('Network targets').locator('ul.diff-added').evaluate((e) => getComputedStyle(e).color);
    expect(colour).toBe('rgb(179, 38, 30)');
    await kit.screenshot('diff');
    // The same diff by audit ids.
    const byIds = await kit.visibleText(await kit.openChecked(`/projects/diffdemo/diff?from=${ids.v10}&to=${ids.v11}`));
    expect(byIds).toContain('new network target in import: connect 127.0.0.1:9/tcp');
  });

  it('the flagged 1.1 audit says what is new since 1.0 and links to its full diff; the clean 1.0 audit does not', async () => {
    if (s.skip) return;
    const { kit } = s;
    const page = await kit.openChecked(`/audits/${ids.v11}`);
    const history = await page.locator('section.history').innerText();
    expect(history).toMatch(new RegExp(`previous release\\s+1\\.0 \\(${ids.v10}, clean\\) · what changed`));
    const newSince = page.locator('section.new-since');
    await expect(newSince.locator('h2').innerText()).resolves.toBe('New since 1.0');
    const items = await newSince.locator('li').allInnerTexts();
    expect(items).toEqual(expect.arrayContaining([
      'new high finding [network-attempt] import tries the network: 127.0.0.1:9',
      'new high finding [dns-lookup] import looks up diffdemo-beacon.invalid',
      'verdict clean → suspicious',
      'result pass → test-fail',
    ]));
    await kit.clickLink('the full diff with 1.0', page);
    expect(path(page)).toBe(`/projects/diffdemo/diff?from=${ids.v10}&to=${ids.v11}`);
    // The previous release's audit: clean, nothing "new since".
    await kit.openChecked(`/audits/${ids.v10}`);
    expect(await page.locator('section.new-since').count()).toBe(0);
    await expect(page.locator('header h1').innerText()).resolves.toBe('diffdemo 1.0 — CLEAN');
  });
});

describe('the trace viewer and raw trace lines in chromium', () => {
  it("the package's network activity apart from the tooling's, counted, each row linked to its raw line (screenshot)", async () => {
    if (s.skip) return;
    const { kit } = s;
    // From the audit page's trace panel.
    const page = await kit.openChecked(`/audits/${ids.v11}`);
    const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Trace viewer' }) });
    await panel.locator('li', { hasText: /^import:/ }).getByRole('link', { name: 'network' }).click();
    await page.waitForURL(/\/trace\?/);
    expect(path(page)).toBe(`/audits/${ids.v11}/trace?phase=import&kind=network&owner=package`);
    await kit.assertNoInjection(page);
    await expect(page.locator('header h1').innerText()).resolves.toBe('diffdemo 1.1 — trace of import');
    const counts = await page.locator('main section p', { hasText: 'shown' }).first().innerText();
    const m = /^(\d+) of (\d+) network operations shown \(1–(\d+)\) · (\d+) in all: (\d+) the package's, (\d+) the tooling's/.exec(counts);
    expect(m).not.toBeNull();
    const [shown, matched, last, all, pkg, tooling] = m!.slice(1).map(Number);
    expect([shown, last, all]).toEqual([matched, matched, pkg! + tooling!]);
    expect(matched).toBe(pkg);
    const rows = page.locator('main table tr:has(td)');
    expect(await rows.count()).toBe(shown);
    const owners = await rows.locator('td:nth-child(5)').allInnerTexts();
    expect(new Set(owners)).toEqual(new Set(['package']));
    const connect = rows.filter({ hasText: 'inet 127.0.0.1:9' });
    await expect(connect.locator('td').first().innerText()).resolves.toBe('connect');
    await expect(connect.locator('td.line a').innerText()).resolves.toBe(`import.strace:${connectLine}`);
    await expect(rows.filter({ hasText: 'diffdemo-beacon.invalid' }).count()).resolves.toBeGreaterThan(0);
    await kit.screenshot('trace-viewer');

    // The row's line opens the raw trace there, highlighted.
    await kit.clickLink(`import.strace:${connectLine}`, page);
    expect(path(page)).toBe(`/audits/${ids.v11}/raw/import/import.strace?line=${connectLine}`);
    await kit.assertNoInjection(page);
    const hit = page.locator('tr.hit');
    await expect(hit.getAttribute('id')).resolves.toBe(`L${connectLine}`);
    const line = await hit.innerText();
    expect(line.startsWith(`${connectLine}\t`)).toBe(true);
    expect(line).toMatch(/connect\(\d+(<[^>]*>)?, \{sa_family=AF_INET, sin_port=htons\(9\), sin_addr=inet_addr\("127\.0\.0\.1"\)\}/);
    // Highlighted, and in view (the address's #L<line>).
    await expect(hit.evaluate((e) => getComputedStyle(e).backgroundColor)).resolves.toBe('rgb(255, 243, 176)');
    await expect(hit.isVisible()).resolves.toBe(true);
    expect(await page.locator('table.excerpt tr').count()).toBeGreaterThan(10); // lines around it
    expect(await hit.evaluate((e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })).toBe(true);
    // The screenshot: a few lines of context, so that the page's header shows too.
    await kit.openChecked(`/audits/${ids.v11}/raw/import/import.strace?line=${connectLine}&context=8`);
    expect(await page.locator('table.excerpt tr').count()).toBeLessThanOrEqual(17); // 8 lines either side
    await kit.screenshot('raw-line');
    await page.goBack();
    // More context, then back to the audit.
    await kit.clickLink(/^more context \(\d+ lines\)$/, page);
    expect(await page.locator('table.excerpt tr').count()).toBeGreaterThan(40);
    await expect(page.locator('tr.hit').getAttribute('id')).resolves.toBe(`L${connectLine}`);
    await kit.clickLink('← the audit', page);
    expect(path(page)).toBe(`/audits/${ids.v11}`);
  });

  it("files: paging, and the tooling's rows apart (N of M shown)", async () => {
    if (s.skip) return;
    const { kit } = s;
    const page = await kit.openChecked(`/audits/${ids.v11}/trace?phase=install&kind=files&owner=all&limit=5`);
    const counts = () => page.locator('main section p', { hasText: 'shown' }).first().innerText();
    const first = /^5 of (\d+) paths shown \(1–5\) · \1 in all: (\d+) the package's, (\d+) the tooling's/.exec(await counts());
    expect(first).not.toBeNull();
    const [total, pkg, tooling] = first!.slice(1).map(Number);
    expect(total).toBeGreaterThan(10);
    expect(pkg! + tooling!).toBe(total);
    const paths = () => page.locator('main table tr:has(td) td:first-child').allInnerTexts();
    const page1 = await paths();
    expect(page1).toHaveLength(5);
    await kit.clickLink('next ›', page);
    expect(new URL(page.url()).searchParams.get('offset')).toBe('5');
    await expect(counts()).resolves.toMatch(new RegExp(`^5 of ${total} paths shown \\(6–10\\)`));
    const page2 = await paths();
    expect(page2).toHaveLength(5);
    expect(page2.filter((p) => page1.includes(p))).toEqual([]);
    await kit.clickLink('‹ previous', page);
    expect(await paths()).toEqual(page1);
    await kit.clickLink('last »', page);
    const lastStart = Math.floor((total! - 1) / 5) * 5;
    await expect(counts()).resolves.toMatch(new RegExp(`^${total! - lastStart} of ${total} paths shown \\(${lastStart + 1}–${total}\\)`));
    // Only the tooling's (pip and its build environment).
    await kit.clickLink(`the tooling's (${tooling})`, page);
    await kit.assertNoInjection(page);
    await expect(counts()).resolves.toMatch(new RegExp(`^5 of ${tooling} paths shown`));
    expect(new Set(await page.locator('main table tr:has(td) td:nth-child(4)').allInnerTexts())).toEqual(new Set(['tooling']));
    await kit.clickLink(`the package's (${pkg})`, page);
    expect(new Set(await page.locator('main table tr:has(td) td:nth-child(4)').allInnerTexts())).toEqual(new Set(['package']));
    expect((await paths()).some((p) => p.includes('site-packages/diffdemo'))).toBe(true);
  });

  it("the process tree: the package's subtrees open, folded and unfolded with a click", async () => {
    if (s.skip) return;
    const { kit } = s;
    const page = await kit.openChecked(`/audits/${ids.v11}/trace?phase=install&kind=processes&owner=all`);
    const tree = page.locator('section', { has: page.getByRole('heading', { name: 'Process tree' }) });
    const drawn = /^(\d+) of (\d+) processes drawn/.exec(await tree.locator('p').first().innerText());
    expect(drawn?.[1]).toBe(drawn?.[2]);
    // PyPA installer installs the planned wheels in one traced interpreter: one tooling process, no subtree.
    const leaf = tree.locator('ul.ptree > li').first();
    await expect(leaf.innerText()).resolves.toMatch(/^\d+ tooling .*pyti_wheel_install\.py .*diffdemo-1\.1-py3-none-any\.whl exit 0 install\.strace:\d+$/);
    await expect(leaf.locator('details').count()).resolves.toBe(0);
    // The build: the planned build environment's driver (tooling, no pip) opened on its child, the package's hook runner.
    await kit.openChecked(`/audits/${ids.v11}/trace?phase=build&kind=processes&owner=all`);
    const root = page.locator('ul.ptree > li > details').first();
    await expect(root.getAttribute('open')).resolves.toBe('');
    await expect(root.locator('summary').first().innerText()).resolves.toMatch(/^\d+ tooling .*pyti_build_env\.py .* \(1 child\)$/);
    const child = root.locator(':scope > ul > li').first();
    await expect(child.innerText()).resolves.toMatch(/^\d+ package .*\/tmp\/build-env-\w+\/bin\/python .*pep517_inprocess\.py/);
    await expect(child.isVisible()).resolves.toBe(true);
    await root.locator('summary > code').first().click(); // the pid, not the line's link
    await expect(root.getAttribute('open')).resolves.toBeNull();
    await expect(child.isVisible()).resolves.toBe(false);
    await root.locator('summary > code').first().click();
    await expect(child.isVisible()).resolves.toBe(true);
    await kit.assertNoInjection(page);
    // The import phase: the package's process, open.
    await kit.openChecked(`/audits/${ids.v11}/trace?phase=import&kind=processes&owner=package`);
    const rows = await page.locator('main table tr:has(td)').allInnerTexts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/package/);
    const pkgTree = page.locator('ul.ptree');
    await expect(pkgTree.locator('.owner-package').first().isVisible()).resolves.toBe(true);
  });
});

describe('the journey of the issue', () => {
  it('from the list to the raw trace line proving the network call of 1.1, in four clicks', async () => {
    if (s.skip) return;
    const { kit } = s;
    const page = await kit.openChecked('/');
    kit.clicks = 0;
    await kit.clickLink('diffdemo', page); // the project
    expect(path(page)).toBe('/projects/diffdemo');
    await kit.clickLink('what changed since 1.0', page); // its diff between the two releases
    expect(path(page)).toBe(`/projects/diffdemo/diff?from=${ids.v10}&to=${ids.v11}`);
    await kit.clickLink('1.1 (diffdemo-1.1.tar.gz)', page); // the audit that added the call
    expect(path(page)).toBe(`/audits/${ids.v11}`);
    await kit.clickLink(`import.strace:${connectLine}`, page); // the finding's evidence, in the report
    expect(kit.clicks).toBeLessThanOrEqual(4);
    expect(path(page)).toBe(`/audits/${ids.v11}/raw/import/import.strace?line=${connectLine}`);
    const hit = await page.locator('tr.hit').innerText();
    expect(hit).toContain('connect(');
    expect(hit).toContain('127.0.0.1');
    expect(hit).toContain('htons(9)');
    await kit.assertNoInjection(page);
  });
});
