/**
 * A headless Chromium (Debian's, driven by playwright-core) pointed at a PyTI master, with what the
 * browser tests need: sign in once, open a page, follow a link by its text, check that nothing a
 * package or a slave sent ever ran (assertNoInjection), and take screenshots for the README.
 *
 * Security note: the checks look for the effects of the test payloads (each sets `window.__pwned`)
 * and for any markup that could run code (inline handlers, foreign scripts and frames, `javascript:`
 * links); a page passes only if the payloads are visible as text and inert.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Dialog, type Page } from 'playwright-core';
import { chromiumArgs, findChromium } from './chromium.js';

/** The screenshots referenced from the README. */
export const SCREENSHOTS_DIR = new URL('../../../docs/screenshots/', import.meta.url).pathname.replace(/\/$/, '');
/** Largest screenshot kept in the repository. */
export const MAX_SCREENSHOT_BYTES = 300 * 1024;
/** The window every page is opened in (and every screenshot's size). */
export const VIEWPORT = { width: 1280, height: 800 } as const;

/** Every browser context's settings: the viewport, light colours, a fixed locale and time zone (stable screenshots). */
const CONTEXT_OPTIONS = { viewport: VIEWPORT, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-GB', timezoneId: 'UTC' } as const;

/** One way an injected payload showed itself. */
export interface Injection {
  where: string;
  what: string;
}

/** What BrowserKit.launch needs. */
export interface BrowserKitOptions {
  /** The master's base URL, no trailing slash. */
  url: string;
  /** The user token the pages are opened with. */
  token: string;
  /** Where screenshot() writes (default: docs/screenshots when PYTI_UPDATE_SCREENSHOTS=1, else `scratchDir`). */
  screenshotsDir?: string;
  /** Scratch directory for screenshots that are only checked, not kept. */
  scratchDir: string;
}

export class BrowserKit {
  /** Dialogs (alert/confirm/prompt) any page opened: a payload that ran would open one. */
  readonly dialogs: string[] = [];
  /** Console errors and uncaught page errors, with the page's URL. */
  readonly errors: string[] = [];
  /** Links followed with clickLink so far (a test of "in four clicks" resets it and reads it). */
  clicks = 0;

  private constructor(
    readonly browser: Browser,
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly opts: BrowserKitOptions,
  ) {}

  /** Launches chromium headless (1280x800) and signs in to the master. Precondition: findChromium() is not null. */
  static async launch(opts: BrowserKitOptions): Promise<BrowserKit> {
    const executablePath = findChromium();
    if (!executablePath) throw new Error('chromium is not installed (bash .ci/install-system-deps)');
    const browser = await chromium.launch({ executablePath, headless: true, args: chromiumArgs() });
    const context = await browser.newContext(CONTEXT_OPTIONS);
    const kit = new BrowserKit(browser, context, await context.newPage(), opts);
    context.on('page', (p) => kit.watch(p));
    kit.watch(kit.page);
    await kit.signIn();
    return kit;
  }

  private watch(page: Page): void {
    page.on('dialog', (d: Dialog) => {
      this.dialogs.push(`${d.type()} "${d.message()}" on ${page.url()}`);
      void d.dismiss().catch(() => undefined);
    });
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error') this.errors.push(`console error on ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.errors.push(`uncaught error on ${page.url()}: ${e.message}`));
  }

  /**
   * Authenticates the browser to the master's pages: the ONE place that knows how. Logs in as a user
   * would, through the login form (`/login`, posted same-origin; see logInWithForm), and checks that
   * the token is now an HttpOnly, SameSite=Strict cookie and never in the address bar.
   */
  async signIn(): Promise<void> {
    const status = await logInWithForm(this.page, this.opts.url, this.opts.token);
    if (status !== 200) throw new Error(`signing in failed: HTTP ${status} on ${this.page.url()}`);
    if (new URL(this.page.url()).pathname !== '/') throw new Error(`signing in did not lead to the audit list but to ${this.page.url()}`);
    const cookies = await this.context.cookies(this.opts.url);
    if (!cookies.some((c) => c.httpOnly && c.sameSite === 'Strict')) throw new Error(`signing in set no HttpOnly, SameSite=Strict cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
    if (new URL(this.page.url()).search.includes('token')) throw new Error('the token stayed in the address bar');
  }

  /** Opens `path` (`/`, `/audits/ID` …) on the master; throws unless it answers 2xx. */
  async open(path: string, page: Page = this.page): Promise<Page> {
    const res = await page.goto(`${this.opts.url}${path}`, { waitUntil: 'load' });
    if (!res || !res.ok()) throw new Error(`GET ${path}: HTTP ${res?.status()}\n${(await res?.text())?.slice(0, 500)}`);
    return page;
  }

  /** Opens `path` and fails unless nothing is injected there (see assertNoInjection); for new pages' tests. */
  async openChecked(path: string, page: Page = this.page): Promise<Page> {
    await this.open(path, page);
    await this.assertNoInjection(page);
    return page;
  }

  /**
   * A tab in a new browser context of its own: no cookie (signed out), for the login page's tests.
   * Its dialogs and console errors are recorded like the others'.
   */
  async signedOutPage(): Promise<Page> {
    const context = await this.browser.newContext(CONTEXT_OPTIONS);
    context.on('page', (p) => this.watch(p));
    return context.newPage();
  }

  /** A second tab, signed in like the first (same context, same cookie). */
  async newPage(): Promise<Page> {
    return this.context.newPage();
  }

  /**
   * Clicks the first link whose accessible name is `text` (exact, or matching the RegExp) in the page
   * or any of its frames, and waits for what it opened to load. Throws, listing the links there are,
   * when none matches.
   */
  async clickLink(text: string | RegExp, page: Page = this.page): Promise<Page> {
    for (const frame of page.frames()) {
      const link = frame.getByRole('link', { name: text, exact: typeof text === 'string' });
      if ((await link.count()) === 0) continue;
      // A link out of the page (also one in the report's frame, which targets the top window): wait
      // until the top window has left the page it was on.
      const target = await link.first().evaluate((a) => (a as HTMLAnchorElement).href);
      const before = page.url();
      const leaves = !!target && target.split('#')[0] !== before.split('#')[0];
      await link.first().click();
      this.clicks++;
      if (leaves) await page.waitForURL((u) => u.href !== before, { waitUntil: 'load' });
      await page.waitForLoadState('load');
      return page;
    }
    const names = await page.getByRole('link').allInnerTexts();
    throw new Error(`no link ${String(text)} on ${page.url()}; links: ${names.slice(0, 40).map((n) => JSON.stringify(n)).join(', ')}`);
  }

  /** The text a user sees on the page, including its same-origin frames (the embedded report). */
  async visibleText(page: Page = this.page): Promise<string> {
    const parts: string[] = [];
    for (const frame of page.frames()) parts.push(await frame.evaluate(() => document.body?.innerText ?? ''));
    return parts.join('\n');
  }

  /**
   * The text of the page and its same-origin frames as the DOM holds it (also inside closed
   * `<details>`), scripts and styles left out. A payload found here is a text node, not markup.
   */
  async pageText(page: Page = this.page): Promise<string> {
    const parts: string[] = [];
    for (const frame of page.frames()) {
      parts.push(await frame.evaluate(() => {
        const body = document.body?.cloneNode(true) as HTMLElement | undefined;
        body?.querySelectorAll('script,style').forEach((e) => e.remove());
        return body?.textContent ?? '';
      }));
    }
    return parts.join('\n');
  }

  /** Every way `page` shows that injected code ran or could run (see assertNoInjection). */
  async findInjections(page: Page = this.page): Promise<Injection[]> {
    const found: Injection[] = [];
    for (const frame of page.frames()) {
      const top = frame === page.mainFrame();
      const where = top ? page.url() : `frame ${frame.name() || frame.url()} of ${page.url()}`;
      const inFrame = await frame.evaluate(inspectDocument, top);
      found.push(...inFrame.map((what) => ({ where, what })));
    }
    found.push(...this.dialogs.map((what) => ({ where: 'dialog', what })));
    found.push(...this.errors.filter((e) => /Content Security Policy|__pwned|Refused to (execute|load|frame)/i.test(e)).map((what) => ({ where: 'console', what })));
    return found;
  }

  /**
   * Fails unless `page` is free of injected code: no dialog was opened, `window.__pwned` (set by
   * every payload) is unset in the page and its frames, no element carries an inline event handler,
   * no script has a `src` or mentions `__pwned`, no frame but the sandboxed report frame (and it
   * without `allow-scripts`), no `<object>`/`<embed>`/`<base>` in the page, no `javascript:`, `data:`
   * or `vbscript:` URL in a link, form or source, and no console error about a blocked script
   * (a CSP that caught an injection is still an injection).
   */
  async assertNoInjection(page: Page = this.page): Promise<void> {
    const found = await this.findInjections(page);
    if (found.length) throw new Error(`injected content on ${page.url()}:\n${found.map((f) => `- ${f.where}: ${f.what}`).join('\n')}`);
  }

  /**
   * Saves the viewport (1280x800) of `page` as `<name>.png`: into docs/screenshots when
   * PYTI_UPDATE_SCREENSHOTS=1 (to commit), else into the scratch directory. Throws when the PNG is
   * larger than MAX_SCREENSHOT_BYTES. Returns its path.
   */
  async screenshot(name: string, page: Page = this.page): Promise<string> {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`screenshot name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
    const dir = this.opts.screenshotsDir ?? (process.env.PYTI_UPDATE_SCREENSHOTS === '1' ? SCREENSHOTS_DIR : join(this.opts.scratchDir, 'screenshots'));
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${name}.png`);
    await page.screenshot({ path, fullPage: false, animations: 'disabled', caret: 'hide' });
    const size = statSync(path).size;
    if (size > MAX_SCREENSHOT_BYTES) throw new Error(`${path} is ${size} bytes, more than ${MAX_SCREENSHOT_BYTES}`);
    return path;
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

/**
 * Opens `${url}/login` in `page`, types `token` into the form and presses "Log in". Resolves with the
 * HTTP status of the document the form led to: 200 on the audit list (or the `next` page) for the
 * right token (after the login's 303), 401 with the form again and its error for a wrong one.
 */
export async function logInWithForm(page: Page, url: string, token: string): Promise<number> {
  const form = await page.goto(`${url}/login`);
  if (!form || !form.ok()) throw new Error(`GET /login: HTTP ${form?.status()}`);
  await page.locator('input[name=token]').fill(token);
  const [landed] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().frame() === page.mainFrame() && (r.status() < 300 || r.status() >= 400)),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
  await page.waitForLoadState('load');
  return landed.status();
}

/**
 * Runs inside a page (serialised by Playwright: self-contained, no imports). Lists what in this
 * document could only be there if markup from a report or a package had been injected.
 */
function inspectDocument(top: boolean): string[] {
  const bad: string[] = [];
  const w = window as unknown as { __pwned?: unknown };
  if (w.__pwned !== undefined) bad.push(`window.__pwned is ${String(w.__pwned)}`);
  const describe = (el: Element): string => el.outerHTML.slice(0, 160);
  const dangerousUrl = (v: string): boolean => /^(javascript|vbscript|data):/i.test(v.replace(/[\u0000-\u0020\u007f]+/g, ''));
  for (const el of Array.from(document.querySelectorAll('*'))) {
    for (const a of Array.from(el.attributes)) {
      if (/^on/i.test(a.name)) bad.push(`inline handler ${a.name}: ${describe(el)}`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster'].includes(a.name.toLowerCase()) && dangerousUrl(a.value)) {
        bad.push(`${a.name}=${a.value.slice(0, 60)}: ${describe(el)}`);
      }
    }
    const tag = el.tagName.toLowerCase();
    if (tag === 'script') {
      if (!top) bad.push(`script in a frame: ${describe(el)}`);
      else if (el.hasAttribute('src')) bad.push(`script with src: ${describe(el)}`);
      // The pages embed data in their scripts as JSON strings (a payload in there is inert): look outside string literals.
      else if ((el.textContent ?? '').replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""').includes('__pwned')) bad.push(`injected script: ${describe(el)}`);
    }
    if (tag === 'iframe' || tag === 'frame') {
      const sandbox = el.getAttribute('sandbox');
      if (!top || sandbox === null || /allow-scripts/.test(sandbox)) bad.push(`frame: ${describe(el)}`);
    }
    if (tag === 'object' || tag === 'embed' || tag === 'applet') bad.push(`${tag}: ${describe(el)}`);
    if (tag === 'base' && top) bad.push(`base in the page: ${describe(el)}`);
    if (tag === 'meta' && /refresh/i.test(el.getAttribute('http-equiv') ?? '') && /url\s*=/i.test(el.getAttribute('content') ?? '')) bad.push(`meta refresh to a URL: ${describe(el)}`);
  }
  return bad;
}
