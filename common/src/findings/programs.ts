/** Program families the spawn rules know, and readers of shell `-c` scripts. */
import { base } from './rule-kit.js';

export const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'csh', 'tcsh', 'fish', 'busybox', 'ash']);
export const DOWNLOADERS = new Set(['curl', 'wget', 'nc', 'ncat', 'netcat', 'socat', 'ftp', 'tftp', 'scp', 'sftp', 'ssh', 'rsync', 'telnet', 'aria2c']);
export const INTERPRETERS = new Set(['perl', 'ruby', 'node', 'nodejs', 'php', 'lua', 'osascript', 'pwsh', 'powershell', 'tclsh', 'expect']);
/** Tools that only resolve names: a package has no business running them (DNS exfiltration, C2 lookups). */
export const DNS_TOOLS = new Set(['dig', 'nslookup', 'host', 'drill', 'kdig', 'delv', 'resolvectl', 'dnsquery', 'adig']);

/** A Python interpreter's name (`python`, `python3`, `python3.11`, `pypy3`). */
export const isPython = (name: string): boolean => /^(python|pypy)(\d+(\.\d+)?)?$/.test(name);

/** The `-c` script of a shell's argv, if any. */
export function shellScript(argv: string[]): string | undefined {
  const c = argv.indexOf('-c');
  return c >= 0 ? argv[c + 1] : undefined;
}

/** Program names in a shell's `-c` script (words in command position or anywhere: a heuristic). */
export function shellScriptPrograms(argv: string[]): string[] {
  const script = shellScript(argv);
  if (!script) return [];
  return [...new Set(script.split(/[\s|;&()`$<>'"{}]+/).filter(Boolean).map(base))];
}

/**
 * Programs in command position of a shell script: the first word of the script and of every part
 * after `|`, `;`, `&`, `&&`, `||`, `(`, `` ` `` or `$(` (after `sudo`/`exec`/`env`/variable assignments).
 */
export function commandWords(script: string): string[] {
  const out = new Set<string>();
  for (const part of script.split(/\|\||&&|[|;&\n(`]|\$\(/)) {
    const words = part.trim().split(/\s+/).filter(Boolean);
    let i = 0;
    while (i < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!) || ['sudo', 'exec', 'env', 'nohup', 'command', 'then', 'do', 'else', '{'].includes(words[i]!))) i++;
    const w = words[i]?.replace(/^["']|["']$/g, '');
    if (w) out.add(base(w));
  }
  return [...out];
}
