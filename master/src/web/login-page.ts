/**
 * The login page: a form taking the user token (posted to `/login`, which keeps it in an HttpOnly,
 * SameSite=Strict cookie) and, after a wrong token, why it was refused. No scripts.
 */
import { esc } from '@pyti/common';
import { pageShell } from './page-shell.js';

/** The login page; `next` is the same-site path to return to (already checked), `error` a message to show. */
export function renderLoginPage(opts: { next: string; error?: string }): string {
  const error = opts.error ? `<p class="verdict-failed" role="alert">${esc(opts.error)}</p>` : '';
  const body = '<header><h1>PyTI: log in</h1><p>The pages need the master\'s user token (the <code>user</code> entry of <code>tokens.json</code> in its data directory, or <code>PYTI_USER_TOKEN</code>).</p></header>'
    + `<main><section>${error}<form method="post" action="/login">`
    + `<input type="hidden" name="next" value="${esc(opts.next)}">`
    + '<p><label for="token">User token</label><br><input id="token" name="token" type="password" autocomplete="current-password" required minlength="8" maxlength="256" size="48" autofocus></p>'
    + '<p><button type="submit">Log in</button></p></form>'
    + '<p class="muted">The token is kept in an HttpOnly cookie for this site only; log out to remove it.</p></section></main>';
  return pageShell('PyTI: log in', body, '', { logout: false });
}
