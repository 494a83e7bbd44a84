/**
 * The feed token: feed readers cannot send an Authorization header, so the Atom feeds also accept
 * `?token=<feed token>`. The feed token is derived from the user token (HMAC-SHA256 of a fixed
 * label under it), so it is not stored, changes when the user token changes, and cannot be turned
 * back into the user token: it only opens the feeds (read-only lists of finished audits), never
 * the user API or the pages. It ends up in feed readers' settings and server logs — treat it as a
 * read credential, and change the user token to revoke it.
 */
import { createHmac } from 'node:crypto';
import { tokenEquals } from '../auth.js';

/** The feed token of `userToken` (40 hex digits). */
export function feedToken(userToken: string): string {
  return createHmac('sha256', userToken).update('pyti feed token v1').digest('hex').slice(0, 40);
}

/** True when `given` is the feed token of `userToken` (constant time). */
export function isFeedToken(userToken: string, given: unknown): boolean {
  return typeof given === 'string' && given.length > 0 && given.length <= 256 && tokenEquals(given, feedToken(userToken));
}
