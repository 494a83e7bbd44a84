/**
 * The HTML document around the master's pages: the master's own stylesheet (served at
 * `PAGE_CSS_PATH`, allowed by the pages' Content-Security-Policy), no other assets. Inline scripts
 * must carry the response's CSP nonce (`inlineScript`): the policy refuses any other.
 */
import { esc } from '@pyti/common';

/** Where the master serves `PAGE_CSS` (public, no token: the login page needs it too). */
export const PAGE_CSS_PATH = '/assets/pyti.css';

/** The pages' stylesheet. */
export const PAGE_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1f21;background:#f6f7f9}
header{padding:16px 28px;background:#2f3640;color:#fff}header h1{margin:0;font-size:21px}header p{margin:4px 0 0}
header a{color:#fff}header.tone-red{background:#b3261e}header.tone-orange{background:#c2410c}header.tone-green{background:#1e7a3c}header.tone-neutral{background:#4b5563}
main{padding:8px 28px 40px}section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:16px 0;padding:12px 16px}
h2{font-size:17px;margin:4px 0 10px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceff3;padding:4px 8px;text-align:left;vertical-align:top}
th{font-weight:600;background:#fafbfc}code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#f3f4f6;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap}
tr.tone-red{background:#fde8e6}tr.tone-red td:first-child{border-left:4px solid #b3261e}
tr.tone-orange{background:#fff1e0}tr.tone-orange td:first-child{border-left:4px solid #c2410c}
tr.tone-green{background:#e6f4ea}tr.tone-green td:first-child{border-left:4px solid #1e7a3c}
tr.tone-neutral td:first-child{border-left:4px solid #c3c8cf}
.state-running{color:#1d4ed8;font-weight:600}.state-queued{color:#6b7280}.state-error{color:#b3261e;font-weight:600}
.verdict-clean{color:#1e7a3c;font-weight:600}.verdict-malicious{color:#fff;background:#8b0f0f;padding:0 4px;border-radius:3px;font-weight:700}
.verdict-suspicious,.verdict-flagged{color:#c2410c;font-weight:700}.verdict-failed,.verdict-error{color:#b3261e;font-weight:600}
.obs-sent{color:#1e7a3c;font-weight:600}.obs-pending{color:#6b7280}.obs-failed{color:#b3261e;font-weight:600}
.num{text-align:right}.muted{color:#6b7280}.progress{color:#374151}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.facts dt{color:#6b7280}dl.facts dd{margin:0}
ol.events{margin:0;padding-left:22px;max-height:360px;overflow:auto;font:12px/1.5 ui-monospace,monospace}
.owner-package{color:#1d4ed8;font-weight:600}td.line{white-space:nowrap}.owner-tooling{color:#6b7280}ul.ptree,ul.ptree ul{list-style:none;padding-left:18px;margin:0}
table.excerpt td{padding:0 8px;border:0}table.excerpt pre{margin:0;padding:0 4px;background:none;max-height:none}table.excerpt tr.hit{background:#fff3b0}
form.filters input[type=search]{width:28em}p.pager{margin:6px 0}dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.meta dt{color:#6b7280}dl.meta dd{margin:0}
iframe.report{width:100%;height:85vh;border:1px solid #dde1e6;border-radius:6px;background:#fff}
.diff-added{color:#b3261e}.diff-removed,.diff-fixed{color:#1e7a3c}h3{font-size:14px;margin:8px 0 4px}tr.diff-changed td{font-weight:600;background:#fff7e6}
.sev-critical,.sev-high{color:#b3261e;font-weight:700}.sev-medium{color:#c2410c;font-weight:600}form.filters{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:end}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#6b7280}nav.pager{margin:8px 0}nav.pager a{margin-right:12px}
footer{padding:0 28px 24px}input[type=password]{font:inherit;padding:4px}`;

/** The log-out button at the foot of every page (a same-origin form post; see http/login-routes.ts). */
export const LOGOUT_FORM = '<footer class="muted"><form method="post" action="/logout"><button type="submit">Log out</button></form></footer>';

/**
 * A complete HTML document: `head` extra (e.g. a no-script refresh), `body` already escaped HTML.
 * `logout: false` leaves out the log-out button (the login page).
 */
export function pageShell(title: string, body: string, head = '', opts: { logout?: boolean } = {}): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${esc(title)}</title><link rel="stylesheet" href="${PAGE_CSS_PATH}">${head}</head><body>${body}${opts.logout === false ? '' : LOGOUT_FORM}</body></html>`;
}

/**
 * A `<script>` element that runs under the pages' Content-Security-Policy: `nonce` is the
 * response's (`request.cspNonce`, see http/security-headers.ts); without it the browser refuses the
 * script. `js` is trusted code; put data in it only through `scriptJson`.
 */
export function inlineScript(js: string, nonce: string, id?: string): string {
  return `<script${id ? ` id="${esc(id)}"` : ''} nonce="${esc(nonce)}">${js}</script>`;
}

/** Refreshes the page every few seconds when scripts are off (the live scripts do it otherwise). */
export const NOSCRIPT_REFRESH = '<noscript><meta http-equiv="refresh" content="5"></noscript>';

/** JSON for a `<script>` element: `<`, `>` and `&` escaped so no string can close the element. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
