import { nftRules, SINKHOLE_GID } from './sinkhole.js';

test("the sinkhole's rules refuse the network to exactly the sandbox's own task gids", () => {
  const rules = nftRules(1500009, 8);
  const filters = rules.split('\n').filter((l) => /^\s*meta skgid \d/.test(l));
  expect(filters).toHaveLength(4);
  expect(filters.every((l) => l.trim().startsWith('meta skgid 1500009-1500016 '))).toBe(true);
  expect(rules).toContain(`meta skgid != ${SINKHOLE_GID} accept`);
  expect(rules).not.toContain('2000-');
  // A VM guest keeps the image's uids.
  expect(nftRules()).toContain('meta skgid 2000-2099 ip daddr != 127.0.0.0/8 drop');
});
