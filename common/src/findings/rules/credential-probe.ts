/**
 * credential-probe: stat/access/chdir/opendir of credential places. One place is medium; a sweep
 * (three or more distinct places) or a probe followed by a read of the same place is high; `.env`
 * alone is low (frameworks look for it too). Stats of many entries of one system directory are an
 * enumeration, not a probe.
 */
import { grouped, homeRelative, ref, type Rule } from '../rule-kit.js';
import { probedPlace, sensitivePlace } from '../places.js';
import type { EvidenceRef, Severity } from '../finding.js';

/** Distinct places that make a sweep. */
const SWEEP = 3;
/**
 * A process that stats this many entries of one directory outside the home is enumerating it (pip's
 * vendored distro scans /etc entry by entry), not looking for particular places.
 */
const ENUMERATION = 16;

export const credentialProbeRule: Rule = {
  id: 'credential-probe',
  description: 'looks for credential places (stat, access, chdir, opendir of ~/.ssh, ~/.aws, browser profiles, wallets, Discord/Telegram stores, .env, /etc/shadow)',
  severity: 'high',
  technique: 'stealers first test which stores exist (os.path.exists over a list of browser, wallet and Discord paths) and then read them (e.g. W4SP, Creal and BlankGrabber sweeps; the 2024 "pytoileur" wallet stealer)',
  run(events, phase, ctx) {
    const children = new Map<string, Set<string>>();
    const dirOf = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';
    for (const e of events) {
      if (e.kind !== 'file' || e.op !== 'probe') continue;
      const k = `${e.pid}:${dirOf(e.path)}`;
      let set = children.get(k);
      if (!set) children.set(k, (set = new Set()));
      if (set.size < ENUMERATION) set.add(e.path);
    }
    const enumerated = (pid: number, path: string): boolean =>
      (children.get(`${pid}:${dirOf(path)}`)?.size ?? 0) >= ENUMERATION && homeRelative(path, ctx) === null;
    const probes = new Map<string, { weak: boolean; ev: EvidenceRef[]; seq: number }>();
    const readAfter = new Set<string>();
    for (const e of events) {
      if (e.kind !== 'file') continue;
      if (e.op === 'probe') {
        const hit = probedPlace(e.path, ctx);
        if (!hit || enumerated(e.pid, e.path)) continue;
        let p = probes.get(hit.place);
        if (!p) probes.set(hit.place, (p = { weak: hit.weak, ev: [], seq: e.seq }));
        if (p.ev.length < 5) p.ev.push(ref(e, phase, `probe ${e.path}${e.ok ? '' : ` (${e.errno})`}`));
      } else if (e.op === 'read') {
        const place = sensitivePlace(e.path, ctx) ?? probedPlace(e.path, ctx)?.place;
        if (place && probes.has(place)) readAfter.add(place);
      }
    }
    const strong = [...probes].filter(([, p]) => !p.weak);
    const sweep = strong.length >= SWEEP;
    return grouped(phase, this.id, [...probes].flatMap(([place, p]) => {
      const severity: Severity = p.weak ? (strong.length ? 'medium' : 'low') : sweep || readAfter.has(place) ? 'high' : 'medium';
      const why = sweep ? `one of ${strong.length} credential places it looks for` : readAfter.has(place) ? 'then reads it' : 'looks for it';
      // A sweep is one finding; lone probes are one each.
      const key = sweep && !p.weak ? 'sweep' : place;
      const title = sweep && !p.weak ? `${phase} sweeps ${strong.length} credential places (${strong.slice(0, 6).map(([pl]) => pl).join(', ')}${strong.length > 6 ? ', …' : ''})` : `${phase} probes ${place} (${why})`;
      return p.ev.map((ev) => ({ key, severity, title, ev }));
    }));
  },
};
