/**
 * Generates an audit's bait: realistic-looking, crypto-random canary credentials (SSH key, AWS,
 * PyPI, Git, Docker, Chrome, Firefox, Discord, Telegram, Electrum, Exodus, shell history,
 * .env), fresh per audit so a leak can be told from anything else in the sandbox.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Bait, BaitFile, Canary } from '@pyti/common';

const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}-_`;

/** `n` characters drawn uniformly from `alphabet`. */
export function randomString(alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/** A fresh bait for one audit. */
export function generateBait(): Bait {
  const canaries: Canary[] = [];
  const files: BaitFile[] = [];
  const canary = (id: string, value: string): string => {
    canaries.push({ id, value });
    return value;
  };
  const file = (path: string, content: string | Buffer): void => {
    files.push({ path, contentBase64: Buffer.from(content).toString('base64') });
  };

  // OpenSSH key: the v1 magic, then random; the canary is a run of the first body line.
  const sshRun = canary('ssh-private-key', randomString(B64, 40));
  const body = `b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW${sshRun}${randomBytes(280).toString('base64')}`;
  const lines = body.match(/.{1,70}/g)!.join('\n');
  file('~/.ssh/id_rsa', `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`);
  const pub = `AAAAC3NzaC1lZDI1NTE5AAAAI${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
  file('~/.ssh/id_rsa.pub', `ssh-ed25519 ${pub} deploy@build-01\n`);
  file('~/.ssh/known_hosts', `github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\ngit.internal.invalid ssh-ed25519 ${pub}\n`);

  const akid = canary('aws-access-key-id', `AKIA${randomString(UPPER32, 16)}`);
  const asecret = canary('aws-secret-access-key', randomString(B64, 40));
  file('~/.aws/credentials', `[default]\naws_access_key_id = ${akid}\naws_secret_access_key = ${asecret}\n`);
  file('~/.aws/config', '[default]\nregion = us-east-1\noutput = json\n');

  const pypi = canary('pypi-token', randomString(B64URL, 48));
  file('~/.pypirc', `[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJD${pypi}\n`);

  // No ~/.netrc: requests reads it before every request (get_netrc_auth), so benign HTTP clients
  // would read the bait and then talk to the network.

  const ghp = canary('github-token', `ghp_${randomString(ALNUM, 36)}`);
  file('~/.git-credentials', `https://deploy-bot:${ghp}@github.com\n`);
  // No ~/.gitconfig: git reads it in benign builds (setuptools-scm), and a bait read must mean theft.

  const docker = canary('docker-password', randomString(ALNUM, 28));
  file('~/.docker/config.json', `${JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from(`deploybot:${docker}`).toString('base64') } } }, null, 2)}\n`);

  const chrome = canary('chrome-password', randomString(ALNUM, 24));
  const chromeKey = canary('chrome-local-state-key', randomString(B64, 44));
  file('~/.config/google-chrome/Local State', JSON.stringify({ os_crypt: { encrypted_key: `RFBBUEk${chromeKey}` }, profile: { last_used: 'Default' } }));
  file('~/.config/google-chrome/Default/Login Data', Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(84),
    Buffer.from(`https://accounts.google.invalid/\0deploy@build-01.invalid\0v10${chrome}\0`)]));
  const cookie = canary('chrome-cookie', randomString(B64URL, 40));
  file('~/.config/google-chrome/Default/Cookies', Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(84), Buffer.from(`.github.com\0user_session\0v10${cookie}\0`)]));

  const ff = canary('firefox-login', randomString(B64, 40));
  file('~/.mozilla/firefox/profiles.ini', '[Profile0]\nName=default-release\nIsRelative=1\nPath=pyti.default-release\nDefault=1\n');
  file('~/.mozilla/firefox/pyti.default-release/logins.json', JSON.stringify({ nextId: 2, logins: [{ id: 1, hostname: 'https://github.com', encryptedUsername: `MDoEEPgAAAAA${randomString(B64, 24)}`, encryptedPassword: `MEIEEPgAAAAA${ff}` }] }));

  const discordId = Buffer.from(String(randomInt(100000000, 999999999)) + String(randomInt(100000000, 999999999))).toString('base64').replace(/=+$/, '');
  const discord = canary('discord-token', `${discordId}.${randomString(B64URL, 6)}.${randomString(B64URL, 38)}`);
  file('~/.config/discord/Local Storage/leveldb/000005.ldb', Buffer.concat([randomBytes(16), Buffer.from(`_https://discord.com\0\x01token\0"${discord}"`), randomBytes(16)]));
  file('~/.config/discord/Local Storage/leveldb/CURRENT', 'MANIFEST-000004\n');

  const tg = canary('telegram-key', randomString(ALNUM, 32));
  file('~/.local/share/TelegramDesktop/tdata/key_datas', Buffer.concat([Buffer.from('TDF$'), randomBytes(32), Buffer.from(tg), randomBytes(32)]));
  file('~/.local/share/TelegramDesktop/tdata/D877F783D5D3EF8Cs', Buffer.concat([Buffer.from('TDF$'), randomBytes(64)]));

  const xprv = canary('electrum-xprv', randomString(ALNUM, 48));
  file('~/.electrum/wallets/default_wallet', JSON.stringify({ keystore: { type: 'bip32', xprv: `xprv9s21ZrQH143K${xprv}`, xpub: `xpub661MyMwAqRbc${randomString(ALNUM, 48)}` }, wallet_type: 'standard', seed_version: 18 }));
  const exodus = canary('exodus-seed', randomString(ALNUM, 32));
  file('~/.config/Exodus/exodus.wallet/seed.seco', Buffer.concat([Buffer.from('SECO'), randomBytes(40), Buffer.from(exodus), randomBytes(40)]));
  file('~/.config/Exodus/exodus.wallet/passphrase.json', JSON.stringify({ passphrase: exodus }));

  const hist = canary('shell-history-secret', randomString(ALNUM, 30));
  file('~/.bash_history', `ls -la\ncd ~/src/app\nexport GITHUB_TOKEN=${ghp}\nmysql -u root -p${hist} app\ngit push origin main\n`);

  const envSecret = canary('dotenv-secret', randomString(ALNUM, 40));
  const dotenv = `DATABASE_URL=postgres://app:${hist}@db.internal.invalid:5432/app\nSECRET_KEY=${envSecret}\nAWS_ACCESS_KEY_ID=${akid}\nAWS_SECRET_ACCESS_KEY=${asecret}\n`;
  // Only in the home: the build tree's parent (/work/scratch) is not writable by the bait task's uid.
  file('~/.env', dotenv);

  return { files, canaries, env: { AWS_ACCESS_KEY_ID: akid, AWS_SECRET_ACCESS_KEY: asecret, AWS_DEFAULT_REGION: 'us-east-1' } };
}
