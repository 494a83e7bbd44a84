/** bait-read: package code opens one of the canary credentials PyTI planted. */
import { grouped, homeRelative, ref, under, type Rule } from '../rule-kit.js';

export const baitReadRule: Rule = {
  id: 'bait-read',
  description: 'opens (or lists) a canary credential file PyTI planted in the home (SSH key, AWS, PyPI, Git, Docker, browser, Discord, Telegram, wallet, .env)',
  severity: 'high',
  technique: 'stealers read whatever credentials exist; planted canaries make the read certain and its exfiltration traceable (honeytoken practice, e.g. Thinkst canarytokens in CI)',
  run(events, phase, ctx) {
    const bait = ctx.baitFiles ?? [];
    if (!bait.length) return [];
    // A planted file is matched under every name of the home.
    const rels = bait.map((b) => homeRelative(b, ctx));
    const isBait = (p: string): string | undefined => {
      const rel = homeRelative(p, ctx);
      return bait.find((b, i) => under(p, b) || (rel !== null && rels[i] !== null && rel === rels[i]));
    };
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || e.op !== 'read' || !e.ok) return [];
      const b = isBait(e.path);
      if (!b) return [];
      return [{ key: b, severity: 'high' as const, title: `${phase} reads the planted ${b.slice(b.lastIndexOf('/') + 1)}`, ev: ref(e, phase, `read ${e.path}`) }];
    }));
  },
};
