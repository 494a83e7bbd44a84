/**
 * Resolution of an archive's links through the archive's own symbolic links: `a -> .` then
 * `a/b -> ../x` each look harmless one at a time, yet a chain can land above the archive's root
 * once extracted. Links are resolved component by component, following the archive's symlinks (as
 * the kernel would after extraction), at most MAX_HOPS links per resolution and MAX_STEPS path
 * components for the whole archive. Symlinks are kept in a trie of pre-split components, so each
 * step costs one map lookup whatever the depth (a hostile archive's links must not cost minutes).
 */
import { guestMemberName } from './member-path.js';

/** Symlinks followed at most while resolving one link (the kernel's limit is 40). */
export const MAX_HOPS = 40;
/** Path components walked at most for the whole archive. */
export const MAX_STEPS = 2_000_000;

/** A link member of the archive. */
export interface ArchiveLink {
  name: string;
  target: string;
  hard: boolean;
}

/** Why a link escapes: `above` (resolves above the root) or `loop` (more than MAX_HOPS links, or MAX_STEPS in all). */
export interface LinkEscape {
  link: ArchiveLink;
  why: 'above' | 'loop';
}

interface TrieNode {
  children: Map<string, TrieNode>;
  /** The symlink's target components, when this path is a symlink. */
  target?: string[];
  absolute?: boolean;
}

interface Walk {
  parts: string[];
  nodes: (TrieNode | undefined)[];
  hops: number;
  steps: { left: number };
}

const components = (p: string): string[] => p.replace(/\\/g, '/').split('/');

/** The first link that resolves above the root or loops, or null when all stay inside. */
export function linkChainEscape(links: ArchiveLink[]): LinkEscape | null {
  const root: TrieNode = { children: new Map() };
  for (const l of links) {
    if (l.hard) continue;
    let node = root;
    for (const c of guestMemberName(l.name).split('/')) {
      let next = node.children.get(c);
      if (!next) node.children.set(c, (next = { children: new Map() }));
      node = next;
    }
    node.target = components(l.target);
    node.absolute = l.target.replace(/\\/g, '/').startsWith('/');
  }
  const steps = { left: MAX_STEPS };
  for (const link of links) {
    if (link.target.replace(/\\/g, '/').startsWith('/')) return { link, why: 'above' };
    const dir = link.hard ? [] : guestMemberName(link.name).split('/').slice(0, -1);
    const w: Walk = { parts: [], nodes: [], hops: MAX_HOPS, steps };
    const r = walk(w, [...dir, ...components(link.target)], root);
    if (r) return { link, why: r };
  }
  return null;
}

/** Walks `comps` from the state `w` (mutated in place); null when it stays inside. */
function walk(w: Walk, comps: string[], root: TrieNode): 'above' | 'loop' | null {
  for (const c of comps) {
    if (--w.steps.left < 0) return 'loop';
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!w.parts.length) return 'above';
      w.parts.pop();
      w.nodes.pop();
      continue;
    }
    const parent = w.nodes.length ? w.nodes[w.nodes.length - 1] : root;
    const node = parent?.children.get(c);
    if (node?.target) {
      if (--w.hops < 0) return 'loop';
      if (node.absolute) return 'above';
      const r = walk(w, node.target, root);
      if (r) return r;
      continue;
    }
    w.parts.push(c);
    w.nodes.push(node);
  }
  return null;
}
