/** Hard-coded exfiltration endpoints: Discord/Telegram bot hooks, paste and file-drop hosts, OAST collectors, raw public IPs. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { NET_CALL } from '../patterns.js';

const HOOK = /discord(?:app)?\.com\/api\/webhooks\/\d{5,}|api\.telegram\.org\/bot\d{6,}:[\w-]{20,}|\b\d{8,10}:AA[\w-]{30,}/i;
const COLLECTOR = new RegExp([
  String.raw`pastebin\.com\/(?:raw|api)`, String.raw`\bpaste\.[\w.-]+\/(?:[\w-]+\/){0,3}raw\b`, String.raw`\bpaste\.ee\/r\/`, String.raw`hastebin\.com\/raw`, String.raw`rentry\.(?:co|org)\/[\w-]+\/raw`,
  String.raw`\btransfer\.sh\b`, String.raw`\bngrok(?:-free)?\.(?:io|app|dev)\b`, String.raw`\bwebhook\.site\b`, String.raw`\bdnshook\.site\b`, String.raw`\bdnslog\.\w+`, String.raw`\bpipedream\.net\b`,
  String.raw`\binteract\.sh\b`, String.raw`\binteractsh\b`, String.raw`\boast\.(?:pro|live|site|online|fun|me)\b`, String.raw`\boastify\.com\b`,
  String.raw`\bburpcollaborator\.net\b`, String.raw`\brequestbin\.\w+`, String.raw`\bcanarytokens\.com\b`, String.raw`\bdnslog\.cn\b`, String.raw`\bceye\.io\b`,
  String.raw`\brequestcatcher\.com\b`, String.raw`\bbeeceptor\.com\b`, String.raw`\bhookbin\.com\b`, String.raw`\bxss\.ht\b`, String.raw`\bbxss\.me\b`,
  String.raw`\banonfiles\.com\b`, String.raw`\bgofile\.io\b`, String.raw`\/\/file\.io\b`, String.raw`\bfilebin\.net\b`, String.raw`\b0x0\.st\b`, String.raw`\bcatbox\.moe\b`,
  String.raw`\btmpfiles\.org\b`, String.raw`\bbashupload\.com\b`, String.raw`\bngrok\.com\b`, String.raw`\btrycloudflare\.com\b`, String.raw`\bserveo\.net\b`, String.raw`\blocaltunnel\.me\b`, String.raw`\bloca\.lt\b`,
  String.raw`\bdiscord\.gg\/`, String.raw`\bgrabify\.link\b`, String.raw`\biplogger\.\w+`, String.raw`\bipinfo\.io\b`, String.raw`\bip-api\.com\b`, String.raw`\bapi\.ipify\.org\b`, String.raw`\bifconfig\.me\b`, String.raw`\bcheckip\.amazonaws\.com\b`,
].join('|'), 'i');
/** Free app hosts: fine in docs, a collector when a request goes there. */
const APP_HOST = /\.(?:herokuapp\.com|cloudfunctions\.net|onrender\.com|workers\.dev|vercel\.app|netlify\.app|glitch\.me|repl\.co|replit\.dev|pythonanywhere\.com|000webhostapp\.com|firebaseio\.com|deno\.dev|railway\.app|fly\.dev|mockapi\.io|requestrepo\.com|anondns\.net|duckdns\.org|ddns\.net|hopto\.org|zapto\.org|no-ip\.\w+|dynu\.\w+|afraid\.org|serveo\.net|r2\.dev)\b/i;
const WEAK = /discord(?:app)?\.com\/api\/webhooks|api\.telegram\.org\/bot/i;
const RAW_IP = /\b(?:https?|tcp|udp):\/\/(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\b/;

function publicIp(a: number, b: number): boolean {
  return !(a === 127 || a === 10 || a === 0 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31) || (a === 169 && b === 254) || a >= 224);
}

export const exfilEndpoint: StaticRule = {
  id: 'exfil-endpoint',
  description: 'a hard-coded exfiltration endpoint: Discord webhook or Telegram bot token, paste/file-drop/tunnel hosts, OAST/interactsh collectors, IP-lookup services, a raw public IP URL',
  severity: 'high',
  technique: 'Stealers posting loot to Discord webhooks or Telegram bots (W4SP, "Creal", "Blank Grabber" forks), dependency-confusion probes reporting to interactsh/Burp Collaborator/pipedream, paste/ngrok stage hosts',
  run(file) {
    if (file.role === 'metadata' || file.role === 'config') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const l = file.code[i]!;
      const aux = file.role === 'aux';
      if (HOOK.test(l)) hits.push({ line: i, severity: aux ? 'medium' : 'high', what: 'Discord webhook or Telegram bot token', excerpt: around(file.lines[i]!, HOOK) });
      else if (COLLECTOR.test(l)) hits.push({ line: i, severity: aux ? 'low' : 'medium', what: 'paste, tunnel, collector or IP-lookup host', excerpt: around(file.lines[i]!, COLLECTOR) });
      else if (APP_HOST.test(l) && (NET_CALL.test(l) || /=\s*[fr]?["']https?:/.test(l))) hits.push({ line: i, severity: aux ? 'low' : 'medium', what: 'request to a free app host', excerpt: around(file.lines[i]!, APP_HOST) });
      else if (WEAK.test(l)) hits.push({ line: i, severity: 'low', what: 'Discord/Telegram API URL', excerpt: around(file.lines[i]!, WEAK) });
      else {
        const m = RAW_IP.exec(l);
        if (m && publicIp(Number(m[1]!), Number(m[2]!))) hits.push({ line: i, severity: aux ? 'low' : 'medium', what: 'URL with a raw public IP address', excerpt: around(file.lines[i]!, RAW_IP) });
      }
    }
    return hits;
  },
};
