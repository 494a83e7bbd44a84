/**
 * Findings v1: rules over the events of the build, install and import traces. Each rule is a pure
 * function of one phase's events and the guest's paths; it reports what it saw with evidence.
 */
import type { TraceEvent } from '../trace/trace-events.js';
import type { EvidenceRef, Finding, Phase, Severity } from './finding.js';

/** Guest paths the rules need. */
export interface RuleContext {
  home: string;
  work: string;
  tmp: string;
}

export interface Rule {
  id: string;
  description: string;
  run(events: TraceEvent[], phase: Phase, ctx: RuleContext): Finding[];
}

const MAX_EVIDENCE = 20;

function ref(e: TraceEvent, phase: Phase, summary: string): EvidenceRef {
  return { phase, seq: e.seq, line: e.line, pid: e.pid, summary: summary.slice(0, 500) };
}

/** Groups evidence by key into one finding per key. */
function grouped(
  phase: Phase, rule: string, items: { key: string; severity: Severity; title: string; ev: EvidenceRef }[],
): Finding[] {
  const out = new Map<string, Finding>();
  for (const it of items) {
    let f = out.get(it.key);
    if (!f) {
      f = { rule, severity: it.severity, phase, title: it.title, evidence: [] };
      out.set(it.key, f);
    }
    if (f.evidence.length < MAX_EVIDENCE) f.evidence.push(it.ev);
  }
  return [...out.values()];
}

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

const fmtNet = (e: Extract<TraceEvent, { kind: 'net' }>): string =>
  `${e.op} ${e.family === 'inet6' ? `[${e.address}]` : e.address}${e.port !== undefined ? `:${e.port}` : ''}${e.protocol ? `/${e.protocol}` : ''}${e.ok ? '' : ` (${e.errno ?? 'failed'})`}`;

export const networkAttemptRule: Rule = {
  id: 'network-attempt',
  description: 'a connection or datagram to an IP address during build, install or import',
  run(events, phase) {
    const dnsPids = new Set(events.filter((e) => e.kind === 'net' && e.dns).map((e) => e.pid));
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'net' || (e.op !== 'connect' && e.op !== 'send') || (e.family !== 'inet' && e.family !== 'inet6')) return [];
      if (e.port === 53 && (e.dns || dnsPids.has(e.pid))) return []; // name lookups: see dns-lookup
      const target = `${e.address}:${e.port ?? ''}`;
      return [{ key: target, severity: 'high' as const, title: `${phase} tries the network: ${target}`, ev: ref(e, phase, fmtNet(e)) }];
    }));
  },
};

export const dnsLookupRule: Rule = {
  id: 'dns-lookup',
  description: 'a DNS query during build, install or import',
  run(events, phase) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'net' || !e.dns) return [];
      return [{ key: e.dns.name, severity: 'high' as const, title: `${phase} looks up ${e.dns.name}`, ev: ref(e, phase, `DNS ${e.dns.type} ${e.dns.name} via ${fmtNet(e)}`) }];
    }));
  },
};

const SENSITIVE_HOME = ['.ssh', '.aws', '.netrc', '.gnupg', '.pypirc', '.git-credentials', '.docker/config.json', '.kube',
  '.config/gcloud', '.azure', '.mozilla', '.config/google-chrome', '.config/chromium', '.config/BraveSoftware',
  '.bash_history', '.zsh_history', '.password-store', '.local/share/keyrings'];
const SENSITIVE_SYSTEM = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/ssh', '/var/run/secrets', '/run/secrets'];

function sensitivePlace(path: string, ctx: RuleContext): string | null {
  for (const home of [ctx.home, '/root']) {
    for (const s of SENSITIVE_HOME) if (under(path, `${home}/${s}`)) return `~/${s}`;
  }
  for (const s of SENSITIVE_SYSTEM) if (under(path, s)) return s;
  if (/^\/proc\/\d+\/environ$/.test(path)) return '/proc/*/environ';
  return null;
}

export const sensitiveReadRule: Rule = {
  id: 'sensitive-read',
  description: 'reads (or tries to read) credentials, keys, shadow files or browser profiles',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || e.op !== 'read') return [];
      const place = sensitivePlace(e.path, ctx);
      if (!place) return [];
      return [{ key: place, severity: 'high' as const, title: `${phase} reads ${place}`, ev: ref(e, phase, `read ${e.path}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};

const PERSISTENCE_HOME = ['.bashrc', '.bash_profile', '.bash_login', '.profile', '.zshrc', '.zprofile', '.zlogin', '.bash_logout',
  '.config/autostart', '.config/systemd', '.local/share/systemd', '.config/fish/config.fish', '.ssh/authorized_keys', '.ssh/rc', '.xinitrc', '.xprofile'];
const PERSISTENCE_SYSTEM = ['/etc/cron', '/etc/crontab', '/etc/cron.d', '/etc/cron.daily', '/etc/cron.hourly', '/var/spool/cron', '/etc/systemd', '/lib/systemd',
  '/usr/lib/systemd', '/etc/init.d', '/etc/rc.local', '/etc/profile', '/etc/profile.d', '/etc/bash.bashrc', '/etc/ld.so.preload', '/etc/xdg/autostart'];

function persistencePlace(path: string, ctx: RuleContext): string | null {
  for (const home of [ctx.home, '/root']) {
    for (const s of PERSISTENCE_HOME) if (under(path, `${home}/${s}`)) return `~/${s}`;
  }
  for (const s of PERSISTENCE_SYSTEM) if (path === s || under(path, s) || (s === '/etc/cron' && path.startsWith('/etc/cron'))) return s;
  return null;
}

const WRITE_OPS = new Set(['write', 'create', 'delete', 'rename', 'chmod', 'mkdir']);

export const persistenceRule: Rule = {
  id: 'persistence',
  description: 'writes to shell start-up files, cron, systemd units, autostart entries or authorized_keys',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || !WRITE_OPS.has(e.op) || e.op === 'delete') return [];
      const target = e.op === 'rename' && e.to ? e.to : e.path;
      const place = persistencePlace(target, ctx);
      if (!place) return [];
      const severity: Severity = place.includes('authorized_keys') || place.includes('ld.so.preload') ? 'critical' : 'high';
      return [{ key: place, severity, title: `${phase} installs persistence in ${place}`, ev: ref(e, phase, `${e.op} ${target}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};

export const sensitiveWriteRule: Rule = {
  id: 'sensitive-write',
  description: 'writes into credential stores such as ~/.ssh or ~/.aws',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || !WRITE_OPS.has(e.op)) return [];
      const target = e.op === 'rename' && e.to ? e.to : e.path;
      const place = sensitivePlace(target, ctx);
      if (!place) return [];
      return [{ key: place, severity: 'critical' as const, title: `${phase} writes into ${place}`, ev: ref(e, phase, `${e.op} ${target}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};

/** Where a build or an install may write: the work area (venv, build tree), temp dirs, pip's cache. */
function allowedWrite(path: string, ctx: RuleContext): boolean {
  return [ctx.work, ctx.tmp, '/var/tmp', '/dev/shm', '/dev/null', '/dev/tty', '/dev/pts', `${ctx.home}/.cache/pip`].some((d) => under(path, d))
    || /^\/proc\/(self|\d+)\/(fd|task)\//.test(path);
}

export const unexpectedWriteRule: Rule = {
  id: 'unexpected-write',
  description: 'writes outside the places a build or install may write (venv, build tree, temp dirs, pip cache)',
  run(events, phase, ctx) {
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'file' || !WRITE_OPS.has(e.op)) return [];
      const targets = e.op === 'rename' && e.to ? [e.path, e.to] : [e.path];
      const bad = targets.find((t) => t.startsWith('/') && !allowedWrite(t, ctx));
      if (!bad || persistencePlace(bad, ctx) || sensitivePlace(bad, ctx)) return []; // reported by their own rules
      const dir = bad.slice(0, bad.lastIndexOf('/')) || '/';
      return [{ key: dir, severity: 'medium' as const, title: `${phase} writes outside the install locations: ${dir}`, ev: ref(e, phase, `${e.op} ${bad}${e.ok ? '' : ` (${e.errno})`}`) }];
    }));
  },
};

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'csh', 'tcsh', 'fish', 'busybox', 'ash']);
const DOWNLOADERS = new Set(['curl', 'wget', 'nc', 'ncat', 'netcat', 'socat', 'ftp', 'tftp', 'scp', 'sftp', 'ssh', 'rsync', 'telnet', 'aria2c']);
const INTERPRETERS = new Set(['perl', 'ruby', 'node', 'nodejs', 'php', 'lua', 'osascript', 'pwsh', 'powershell', 'tclsh', 'expect']);

const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

/** Program names in a shell's `-c` script (words in command position or anywhere: a heuristic). */
function shellScriptPrograms(argv: string[]): string[] {
  const c = argv.indexOf('-c');
  const script = c >= 0 ? argv[c + 1] : undefined;
  if (!script) return [];
  return [...new Set(script.split(/[\s|;&()`$<>'"{}]+/).filter(Boolean).map(base))];
}

export const suspiciousSpawnRule: Rule = {
  id: 'suspicious-spawn',
  description: 'spawns a shell, a downloader or a non-Python interpreter (attempts count too)',
  run(events, phase) {
    const seen = new Set<string>();
    return grouped(phase, this.id, events.flatMap((e) => {
      if (e.kind !== 'exec') return [];
      const name = base(e.path);
      const kind = DOWNLOADERS.has(name) ? 'downloader' : SHELLS.has(name) ? 'shell' : INTERPRETERS.has(name) ? 'interpreter' : null;
      if (!kind) return [];
      // A failed exec is retried along $PATH: count one attempt per process and program.
      const once = `${e.pid}:${name}:${e.ok}`;
      if (seen.has(once)) return [];
      seen.add(once);
      const severity: Severity = kind === 'downloader' ? 'high' : 'medium';
      const argv = e.argv.join(' ').slice(0, 300);
      const items = [{ key: `${kind}:${name}`, severity, title: `${phase} spawns ${article(kind)} ${kind}: ${name}`, ev: ref(e, phase, `exec ${e.path} [${argv}]${e.ok ? '' : ` (${e.errno})`}`) }];
      // A shell's `-c` script names the programs it will run, even those it then fails to find
      // (dash searches $PATH with stat, so a missing curl is never exec'd).
      if (kind === 'shell') {
        for (const prog of shellScriptPrograms(e.argv)) {
          const k = DOWNLOADERS.has(prog) ? 'downloader' : INTERPRETERS.has(prog) ? 'interpreter' : null;
          if (!k) continue;
          items.push({ key: `${k}:${prog}`, severity: k === 'downloader' ? 'high' : 'medium', title: `${phase} spawns ${article(k)} ${k}: ${prog}`, ev: ref(e, phase, `${name} -c runs ${prog}: [${argv}]`) });
        }
      }
      return items;
    }));
  },
};

export const droppedExecutableRule: Rule = {
  id: 'dropped-executable',
  description: 'a file written, made executable and run',
  run(events, phase) {
    const written = new Map<string, TraceEvent>();
    const chmodded = new Map<string, TraceEvent>();
    const out: Finding[] = [];
    for (const e of events) {
      if (e.kind === 'file' && e.ok && (e.op === 'write' || e.op === 'create')) written.set(e.path, e);
      else if (e.kind === 'file' && e.ok && e.op === 'rename' && e.to && written.has(e.path)) written.set(e.to, written.get(e.path)!);
      else if (e.kind === 'file' && e.ok && e.op === 'chmod' && e.mode !== undefined && (e.mode & 0o111) && written.has(e.path)) chmodded.set(e.path, e);
      else if (e.kind === 'exec' && e.ok && written.has(e.path) && chmodded.has(e.path)) {
        out.push({
          rule: this.id, severity: 'critical', phase, title: `${phase} writes, marks executable and runs ${e.path}`,
          evidence: [ref(written.get(e.path)!, phase, `write ${e.path}`), ref(chmodded.get(e.path)!, phase, `chmod ${e.path}`), ref(e, phase, `exec ${e.path}`)],
        });
      }
    }
    return out;
  },
};

export const compilerRule: Rule = {
  id: 'native-build',
  description: 'a C/C++ compiler ran (the package has native code)',
  run(events, phase) {
    const first = events.find((e) => e.kind === 'exec' && e.ok && /(^|-)(gcc|g\+\+|cc|c\+\+|clang)(-\d+)?$/.test(base(e.path)));
    return first ? [{ rule: this.id, severity: 'info', phase, title: `${phase} compiles native code`, evidence: [ref(first, phase, `exec ${(first as { path: string }).path}`)] }] : [];
  },
};

/** Every rule, in report order. */
export const RULES: readonly Rule[] = [
  droppedExecutableRule, sensitiveWriteRule, persistenceRule, sensitiveReadRule, networkAttemptRule, dnsLookupRule,
  suspiciousSpawnRule, unexpectedWriteRule, compilerRule,
];

/** Runs every rule over one phase's events. */
export function findingsFor(events: TraceEvent[], phase: Phase, ctx: RuleContext): Finding[] {
  return RULES.flatMap((r) => r.run(events, phase, ctx));
}
