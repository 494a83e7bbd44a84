/** Browser, Discord, wallet and other credential stores named in code. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around, runsEarly } from '../static-rule.js';
import { NET_SEND } from '../patterns.js';

const STEALER = new RegExp([
  String.raw`Login Data\b`, String.raw`Local State\b`, String.raw`Web Data\b`, String.raw`Local Storage[\\/]+leveldb`, String.raw`CryptUnprotectData`,
  String.raw`\bkey4\.db\b`, String.raw`\blogins\.json\b`, String.raw`\bcookies\.sqlite\b`, String.raw`Telegram Desktop[\\/]+tdata|\btdata\b`,
  String.raw`\bwallet\.dat\b`, String.raw`\bExodus[\\/]+exodus\.wallet|\bexodus\.wallet\b`, String.raw`Electrum[\\/]+wallets`, String.raw`\bAtomic[\\/]+Local Storage`,
  String.raw`nkbihfbeogaeaoehlefnkodbefgpgknn`, String.raw`\bdiscordcanary\b|\bdiscordptb\b`, String.raw`dQw4w9WgXcQ`, String.raw`\bmfa\.[\w-]{20,}`,
  String.raw`Google[\\/]+Chrome[\\/]+User Data`, String.raw`BraveSoftware[\\/]+Brave-Browser`, String.raw`Opera Software[\\/]+Opera`, String.raw`Yandex[\\/]+YandexBrowser`,
].join('|'), 'i');
const SECRET = /\.ssh[\\/]+id_(?:rsa|dsa|ecdsa|ed25519)|\.aws[\\/]+credentials|\.git-credentials|\.npmrc\b|\.pypirc\b|\.docker[\\/]+config\.json|\/etc\/shadow|\/etc\/passwd|\.bash_history|\.kube[\\/]+config|\.netrc\b/;

export const credentialPaths: StaticRule = {
  id: 'credential-paths',
  description: 'credential stores named in code: browser Login Data/Local State/cookies, Discord Local Storage/leveldb tokens, wallets, Telegram tdata (high); SSH keys, cloud/registry credentials, /etc/shadow sent over the network (medium)',
  severity: 'high',
  technique: 'Token and password stealers on PyPI (W4SP, Creal, Blank Grabber, "discord token grabber" forks) reading Chrome Login Data + Local State, Discord leveldb, Exodus/MetaMask wallets',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    const sends = NET_SEND.test(file.codeText);
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      if (STEALER.test(l)) hits.push({ line: i, severity: file.role === 'aux' ? 'low' : 'high', what: 'browser, Discord or wallet credential store', excerpt: around(file.lines[i]!, STEALER) });
      else if (SECRET.test(l)) hits.push({ line: i, severity: sends && runsEarly(file) ? 'medium' : 'low', what: sends ? 'secret file read in a file that sends data' : 'secret file path', excerpt: around(file.lines[i]!, SECRET) });
    }
    return hits;
  },
};
