/**
 * Resolution of an archive's links through the archive's own symbolic links: `a -> .` then
 * `a/b -> ../x` each look harmless one at a time, yet a chain can land above the archive's root
 * once extracted. Links are resolved component by component, following the archive's symlinks (as
 * the kernel would after extraction), at most MAX_HOPS links per resolution.
 */
import { guestMemberName } from './member-path.js';

/** Symlinks followed at most while resolving one link (the kernel's limit is 40). */
export const MAX_HOPS = 40;

/** A link member of the archive. */
export interface ArchiveLink {
  name: string;
  target: string;
  hard: boolean;
}

/** Why a link escapes: `above` (resolves above the root) or `loop` (more than MAX_HOPS links). */
export interface LinkEscape {
  link: ArchiveLink;
  why: 'above' | 'loop';
}

/** The first link that resolves above the root or loops, or null when all stay inside. */
export function linkChainEscape(links: ArchiveLink[]): LinkEscape | null {
  const symlinks = new Map<string, string>();
  for (const l of links) if (!l.hard) symlinks.set(guestMemberName(l.name), l.target);
  for (const link of links) {
    const name = guestMemberName(link.name);
    const dir = name.split('/').slice(0, -1).join('/');
    const budget = { hops: MAX_HOPS };
    if (link.target.replace(/\\/g, '/').startsWith('/')) return { link, why: 'above' };
    const r = walk([], link.hard ? link.target : `${dir}/${link.target}`, symlinks, budget);
    if (r === 'above' || r === 'loop') return { link, why: r };
  }
  return null;
}

function walk(base: string[], rel: string, symlinks: Map<string, string>, budget: { hops: number }): string[] | 'above' | 'loop' {
  const n = rel.replace(/\\/g, '/');
  if (n.startsWith('/')) return 'above';
  const parts = [...base];
  for (const c of n.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!parts.length) return 'above';
      parts.pop();
      continue;
    }
    parts.push(c);
    const target = symlinks.get(parts.join('/'));
    if (target === undefined) continue;
    if (--budget.hops < 0) return 'loop';
    parts.pop();
    const r = walk(parts, target, symlinks, budget);
    if (typeof r === 'string') return r;
    parts.splice(0, parts.length, ...r);
  }
  return parts;
}
