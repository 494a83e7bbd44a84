import { DYNAMIC_RULES } from './index.js';
import { RULES } from './rules.js';
import { SEVERITY_ORDER } from './finding.js';

describe('the dynamic rule registry', () => {
  it('declares every rule with an id, description, severity and technique, ids unique', () => {
    expect(DYNAMIC_RULES.length).toBeGreaterThanOrEqual(RULES.length + 2);
    for (const r of DYNAMIC_RULES) {
      expect(r.id).toMatch(/^[a-z][a-z0-9-]+$/);
      expect(r.description.length).toBeGreaterThan(10);
      expect(r.technique.length).toBeGreaterThan(10);
      expect(SEVERITY_ORDER).toContain(r.severity);
    }
    expect(new Set(DYNAMIC_RULES.map((r) => r.id)).size).toBe(DYNAMIC_RULES.length);
  });

  it('keeps the rule ids findings already used', () => {
    const ids = RULES.map((r) => r.id);
    for (const id of ['network-attempt', 'dns-lookup', 'sensitive-read', 'persistence', 'sensitive-write', 'unexpected-write', 'suspicious-spawn', 'dropped-executable', 'native-build']) {
      expect(ids).toContain(id);
    }
  });
});
