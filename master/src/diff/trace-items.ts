/**
 * What a release diff compares in a report's traces, as comparable text per phase: commands run,
 * files written outside the install, network targets, DNS names and sinkhole traffic.
 *
 * Two audits of the same code differ in pids, temp-file names and the release's own version (in
 * wheel and sdist names), so texts are normalized: the version becomes `{version}`, random temp
 * names `*`. Reports come from slaves: every field is checked before it is read (a missing or odd
 * field reads as nothing).
 */
import type { AuditReport } from '@pyti/common';
import type { PhaseItem } from './audit-diff-types.js';

const PHASES = ['build', 'install', 'import', 'execute'] as const;

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Escapes a string for a RegExp. */
const reEsc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A normalizer for one report's texts: the release's version where it is part of a file name
 * (`diffdemo-1.1-py3-none-any.whl` → `diffdemo-{version}-py3-none-any.whl`), and random temp names
 * directly under a temp dir (`/tmp/pip-unpack-03h_yt94` → `/tmp/pip-unpack-*`, `/tmp/tmpj2fuwymr` → `/tmp/tmp*`,
 * `/tmp/build-reqs-1of0trc9.txt` → `/tmp/build-reqs-*.txt`).
 */
export function normalizer(version: string): (text: string) => string {
  const v = version && version.length <= 100 ? new RegExp(`(?<=[-_/=])${reEsc(version)}(?=$|[-./\\s:])`, 'g') : null;
  return (text: string): string => {
    let t = v ? text.replace(v, '{version}') : text;
    // Python's tempfile names: a prefix (`tmp`, or one ending in - or _), 8 of [a-z0-9_], a suffix.
    t = t.replace(/(\/(?:tmp|var\/tmp|dev\/shm)\/)([A-Za-z0-9_.+-]+)/g, (_m, dir: string, seg: string) =>
      dir + seg.replace(/^(.*?[-_]|tmp)[a-z0-9_]{8}((?:\.[A-Za-z0-9]+)*)$/, '$1*$2'));
    return t;
  };
}

/** The places a build or an install may write (mirrors the rules' allowedWrite): not "outside the install". */
function insideInstall(path: string, paths: { home: string; work: string; tmp: string; homes: string[] }): boolean {
  const under = (p: string, d: string): boolean => p === d || p.startsWith(`${d}/`);
  for (const h of paths.homes) if (under(path, h)) return under(path, `${h}/.cache/pip`);
  if ([paths.work, paths.tmp, '/var/tmp', '/dev/shm', '/dev/null', '/dev/tty', '/dev/pts', '/opt/pyti/tasks', '/proc/self'].some((d) => d && under(path, d))) return true;
  return /^\/proc\/\d+\/(fd|task)\//.test(path);
}

/** The guest paths the report's rules judged against (defaults: the bwrap guest's). */
function guestPaths(r: AuditReport): { home: string; work: string; tmp: string; homes: string[] } {
  const p = obj(obj(r.guest).paths);
  const home = str(p.home) || '/work/home';
  const homes = [home, ...arr(p.homeAliases).map(str).filter(Boolean), '/root'];
  return { home, work: str(p.work) || '/work', tmp: str(p.tmp) || '/tmp', homes };
}

function traceOf(r: AuditReport, phase: string): Record<string, unknown> {
  return obj(obj(r.traces)[phase]);
}

/** Distinct commands per phase (argv joined, normalized). */
export function processItems(r: AuditReport, norm: (s: string) => string): PhaseItem[] {
  const out: PhaseItem[] = [];
  for (const phase of PHASES) {
    for (const p of arr(traceOf(r, phase).processes)) {
      const argv = arr(obj(p).argv).map(str);
      if (argv.length) out.push({ phase, text: norm(argv.join(' ').slice(0, 500)) });
    }
  }
  return out;
}

/** Paths written (any operation but read and probe) outside the install, with their operations; temp files created and deleted in the phase are left out. */
export function writtenFileItems(r: AuditReport, norm: (s: string) => string): PhaseItem[] {
  const paths = guestPaths(r);
  const out: PhaseItem[] = [];
  for (const phase of PHASES) {
    for (const f of arr(traceOf(r, phase).files)) {
      const path = str(obj(f).path);
      const ops = arr(obj(f).ops).map(str).filter((o) => o !== 'read' && o !== 'probe');
      if (!path || !ops.length || insideInstall(path, paths)) continue;
      if (ops.includes('delete') && (ops.includes('create') || ops.includes('mkdir'))) continue;
      out.push({ phase, text: `${norm(path)} (${ops.join(', ')}${obj(f).failed === true ? ', failed' : ''})` });
    }
  }
  return out;
}

/** Network operations on IP addresses: `connect 127.0.0.1:9/tcp`, `sendto [::1]:53/udp`. */
export function networkItems(r: AuditReport): PhaseItem[] {
  const out: PhaseItem[] = [];
  for (const phase of PHASES) {
    for (const n of arr(traceOf(r, phase).network)) {
      const e = obj(n);
      const family = str(e.family);
      if (family !== 'inet' && family !== 'inet6') continue;
      const addr = family === 'inet6' ? `[${str(e.address)}]` : str(e.address);
      const port = e.port === undefined ? '' : `:${str(e.port)}`;
      out.push({ phase, text: `${str(e.op)} ${addr}${port}${e.protocol ? `/${str(e.protocol)}` : ''}` });
    }
  }
  return out;
}

/** Names looked up, per phase. */
export function dnsItems(r: AuditReport): PhaseItem[] {
  const out: PhaseItem[] = [];
  for (const phase of PHASES) for (const n of arr(traceOf(r, phase).dnsNames)) if (str(n)) out.push({ phase, text: str(n) });
  return out;
}

/** What the sinkhole recorded (null when the report has no sinkhole record): `dns A x.invalid`, `tcp 127.0.0.1:9 http POST host/path`. */
export function sinkholeItems(r: AuditReport): PhaseItem[] | null {
  if (!Array.isArray(r.network)) return null;
  return r.network.map((x) => {
    const e = obj(x);
    const http = obj(e.http);
    const target = str(e.kind) === 'dns' ? `${str(e.dnsType)} ${str(e.dnsName)}` : `${str(e.address)}:${str(e.port)}`;
    const extra = [e.sni ? `sni ${str(e.sni)}` : '', http.method ? `http ${str(http.method)} ${str(http.host)}${str(http.path)}` : ''].filter(Boolean).join(' ');
    return { phase: str(e.phase), text: `${str(e.kind)} ${target}${extra ? ` ${extra}` : ''}`.slice(0, 500) };
  });
}
