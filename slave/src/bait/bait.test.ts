import { generateBait } from './generate-bait.js';
import { dnsTexts, findCanaries, indexCanaries, parseBaitHits, parsePlanted } from '@pyti/common';

describe('bait', () => {
  const bait = generateBait();
  const file = (p: string): string => Buffer.from(bait.files.find((f) => f.path === p)!.contentBase64, 'base64').toString('latin1');

  it('is fresh per audit and shaped like the real thing', () => {
    const other = generateBait();
    const values = new Set(bait.canaries.map((c) => c.value));
    expect(other.canaries.some((c) => values.has(c.value))).toBe(false);
    expect(file('~/.ssh/id_rsa')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n$/);
    expect(file('~/.aws/credentials')).toMatch(/aws_access_key_id = AKIA[A-Z2-7]{16}\naws_secret_access_key = [A-Za-z0-9+/]{40}\n/);
    expect(file('~/.git-credentials')).toMatch(/:ghp_[A-Za-z0-9]{36}@github\.com/);
    expect(file('~/.pypirc')).toMatch(/password = pypi-AgEI/);
    expect(JSON.parse(file('~/.docker/config.json')).auths).toBeDefined();
    expect(bait.env.AWS_ACCESS_KEY_ID).toBe(bait.canaries.find((c) => c.id === 'aws-access-key-id')!.value);
    for (const p of ['~/.bash_history', '~/.env', '~/.config/discord/Local Storage/leveldb/000005.ldb', '~/.local/share/TelegramDesktop/tdata/key_datas',
      '~/.electrum/wallets/default_wallet', '~/.config/Exodus/exodus.wallet/seed.seco', '~/.config/google-chrome/Default/Login Data', '~/.mozilla/firefox/pyti.default-release/logins.json']) {
      expect(file(p).length).toBeGreaterThan(10);
    }
  });

  it('plants every canary in some file (plain or, for Docker, base64)', () => {
    const idx = indexCanaries(bait.canaries);
    const inFiles = new Set(bait.files.flatMap((f) => findCanaries(Buffer.from(f.contentBase64, 'base64'), idx)));
    expect([...inFiles].sort()).toEqual(bait.canaries.map((c) => c.id).sort());
  });

  it('matches canaries plain, URL-encoded, hex, base64 (any offset, URL-safe) and base32, and nothing else', () => {
    const idx = indexCanaries(bait.canaries);
    const secret = bait.env.AWS_SECRET_ACCESS_KEY!;
    expect(findCanaries(`x=${encodeURIComponent(secret)}`, idx)).toEqual(['aws-secret-access-key']);
    expect(findCanaries(Buffer.from(`k:${secret}`).toString('hex'), idx)).toEqual(['aws-secret-access-key']);
    for (const pre of ['', 'a', 'ab']) expect(findCanaries(Buffer.from(`${pre}${secret}`).toString('base64url'), idx)).toEqual(['aws-secret-access-key']);
    expect(findCanaries('nothing to see here, just text and AAAABBBBCCCCDDDDEEEEFFFF', idx)).toEqual([]);
    const hex = Buffer.from(secret).toString('hex');
    expect(dnsTexts(`${hex.slice(0, 40)}.${hex.slice(40)}.a.invalid`).flatMap((t) => findCanaries(t, idx))).toContain('aws-secret-access-key');
  });

  it('shape-checks what the sandbox wrote', () => {
    expect(parseBaitHits(Buffer.from(JSON.stringify({ hits: [{ path: '/tmp/x', canary: 'a' }, { path: 3 }, 'junk'] })))).toEqual([{ path: '/tmp/x', canary: 'a' }]);
    expect(parseBaitHits(Buffer.from('not json'))).toEqual([]);
    expect(parsePlanted(Buffer.from(JSON.stringify({ planted: ['/home/a/.ssh/id_rsa', 'relative', 7] })))).toEqual(['/home/a/.ssh/id_rsa']);
  });
});
