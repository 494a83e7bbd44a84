/** `pyti subscribe` output: a table of subscriptions and one subscription's detail (cleaned of control characters). */
import type { FeedStatus, SubscriptionAudit, SubscriptionSummary } from '../user-api.js';
import { clean } from './terminal-text.js';

/** The kind's parameters in a few words: `projects: a, b`, `pattern: django-*`, `main @ /srv/repos/app` (git). */
export function specText(s: SubscriptionSummary): string {
  if (s.kind === 'git' && typeof s.spec.repo === 'string' && typeof s.spec.branch === 'string') return clean(`${s.spec.branch} @ ${s.spec.repo}`);
  const parts = Object.entries(s.spec).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  return clean(parts.join('; '));
}

function stateText(s: SubscriptionSummary): string {
  return s.paused ? `paused (${clean(s.pausedReason ?? '')})` : 'active';
}

const HEAD = ['NAME', 'KIND', 'FOLLOWS', 'PRIORITY', 'BACKEND', 'BACKLOG', 'STATE', 'QUEUED', 'SUBMITTED', 'DROPPED', 'CANCELLED'];

/** Column-aligned table of subscriptions. */
export function subscriptionTable(subs: SubscriptionSummary[]): string {
  if (!subs.length) return 'no subscriptions';
  const rows = subs.map((s) => [
    clean(s.name), clean(s.kind), specText(s) || '-', String(s.priority), clean(s.backend ?? 'default'),
    s.backlog.limit === null ? '-' : `${s.backlog.limit} ${s.backlog.policy}`, stateText(s),
    String(s.counts.queued), String(s.counts.submitted), String(s.counts.dropped), String(s.counts.cancelled),
  ]);
  const widths = HEAD.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (r: string[]) => r.map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(HEAD), ...rows.map(line)].join('\n');
}

/** One subscription: definition, state, counts, the feed's cursor and lag (a git subscription: its commit cursor and last error), and its latest audits. */
export function subscriptionDetail(s: SubscriptionSummary, feed: FeedStatus | null, audits: SubscriptionAudit[]): string {
  const out = [`${clean(s.name)}  ${clean(s.kind)}${specText(s) ? `  ${specText(s)}` : ''}  ${stateText(s).toUpperCase()}`];
  const kv = (k: string, v: string) => out.push(`  ${k.padEnd(9)} ${v}`);
  kv('audits', `priority ${s.priority}, backend ${clean(s.backend ?? 'default')}, backlog ${s.backlog.limit === null ? 'unlimited' : `${s.backlog.limit} (${s.backlog.policy})`}`);
  const c = s.counts;
  kv('counts', `matched ${c.matched}, submitted ${c.submitted}, queued ${c.queued}, dropped ${c.dropped}, cancelled ${c.cancelled} (yanked or removed), skipped while paused ${c.skipped}`);
  kv('created', clean(s.createdAt));
  const g = s.git;
  if (g) {
    kv('cursor', `${g.cursor ?? 'none yet'}${g.head && g.head !== g.cursor ? ` (the branch is at ${g.head})` : ''}${g.lastPollAt ? `, last poll ${clean(g.lastPollAt)}` : ''}`);
    kv('commits', `${g.commitsAudited} audited, ${g.forcePushes} force-push${g.forcePushes === 1 ? '' : 'es'} seen`);
    if (g.lastError) kv('error', `${clean(g.lastError.code)}: ${clean(g.lastError.message)} (${clean(g.lastError.at)})`);
    if (g.lastNote) kv('note', `${clean(g.lastNote.text)} (${clean(g.lastNote.at)})`);
  }
  if (feed && !g) {
    const via = feed.mode === 'simple' ? ' through /simple/' : feed.mode === 'both' ? ' through the change log and /simple/' : '';
    kv('index', `${clean(feed.indexUrl)} (${feed.following || feed.simple?.following ? `followed${via}` : 'not followed'})`);
    if (feed.mode !== 'simple') kv('cursor', `${feed.cursor ?? 'none yet'}${feed.lag !== null ? `, lag ${feed.lag} (index at ${feed.indexSerial})` : ''}${feed.lastPollAt ? `, last poll ${clean(feed.lastPollAt)}` : ''}`);
    if (feed.lastError) kv('error', `${clean(feed.lastError.code)}: ${clean(feed.lastError.message)} (${clean(feed.lastError.at)})`);
    const sf = feed.simple;
    if (sf) {
      kv('simple', `serial ${sf.rootSerial ?? 'none yet'}, ${sf.pagesFetched} pages read, ${sf.filesFound} new files, ${sf.notModified} passes unchanged (304)${sf.lastPollAt ? `, last pass ${clean(sf.lastPollAt)}` : ''}`);
      if (sf.lastError) kv('simple error', `${clean(sf.lastError.code)}: ${clean(sf.lastError.message)}`);
    }
    if (feed.quarantined) kv('quarantined', `${feed.quarantined} change-log entries, releases or pages set aside (GET /api/v1/feed/quarantine)`);
  }
  for (const a of audits) {
    if (a.audit.git) {
      const outcome = a.audit.state === 'done' ? `${a.audit.verdict ?? ''} ${a.audit.result ?? ''}` : a.audit.state === 'error' ? a.audit.error?.code ?? '' : '';
      out.push(`    ${clean(a.audit.id)}  ${a.audit.state.padEnd(9)} ${clean(a.project)} ${clean(a.audit.git.commit.slice(0, 12))} ${clean(outcome)}`.trimEnd()
        + `${a.droppedReason ? ` (${clean(a.droppedReason)})` : ''}`);
      continue;
    }
    const mark = a.releaseState !== 'active' ? ` [${a.releaseState}]` : '';
    out.push(`    ${clean(a.audit.id)}  ${a.audit.state.padEnd(9)} ${clean(a.project)} ${clean(a.version)} ${clean(a.filename)}${mark}${a.droppedReason ? ` (${clean(a.droppedReason)})` : ''}`);
  }
  return out.join('\n');
}
