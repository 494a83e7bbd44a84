/**
 * Findings from the Windows program shims (report `reach.windowsCommands`): a package that runs
 * PowerShell with an encoded command or a download cradle is doing what Windows droppers on PyPI
 * do (e.g. the 2022–2023 `powershell -EncodedCommand` / `IWR ... | iex` setup.py droppers); any other
 * Windows program (cmd, mshta, rundll32, certutil, schtasks, an `.exe`) is suspicious in a Python
 * package's build, install or import.
 */
import type { Finding, RuleInfo } from './finding.js';
import type { WindowsCommand } from '../report/reach.js';

const POWERSHELL = /^(powershell|pwsh)(\.exe)?$/i;
/** Download cradles and in-memory execution, in the command line or the decoded command. */
export const DOWNLOAD_CRADLE = /\b(iwr|irm|invoke-webrequest|invoke-restmethod|downloadstring|downloadfile|downloaddata|iex|invoke-expression|net\.webclient|start-bitstransfer|frombase64string)\b/i;
const ENCODED_OPTION = /^[-/](e|ec|en|enc|enco|encod|encode|encoded|encodedc|encodedco|encodedcom|encodedcomm|encodedcomma|encodedcomman|encodedcommand)$/i;

export const WINDOWS_SHIM_RULES: readonly RuleInfo[] = [
  {
    id: 'windows-powershell-payload', severity: 'high',
    description: 'PowerShell run with -EncodedCommand or a download cradle (IWR, Invoke-WebRequest, DownloadString, iex)',
    technique: 'Windows droppers in setup.py: subprocess powershell -EncodedCommand / IWR … | iex with CREATE_NO_WINDOW',
  },
  {
    id: 'windows-command', severity: 'medium',
    description: 'A Windows program (cmd, mshta, rundll32, certutil, schtasks, reg, an .exe, os.startfile) was run',
    technique: 'Windows-only payloads: cmd /c start, mshta/rundll32 LOLBins, a downloaded .exe started',
  },
];

const baseName = (p: string): string => p.replace(/\\/g, '/').split('/').pop() ?? p;

/** True when the entry is PowerShell with an encoded command or a download cradle. */
export function isPowershellPayload(e: WindowsCommand): boolean {
  if (!POWERSHELL.test(baseName(e.program))) return false;
  return e.decoded !== undefined || e.argv.some((a) => ENCODED_OPTION.test(a)) || DOWNLOAD_CRADLE.test(`${e.argv.join(' ')} ${e.decoded ?? ''}`);
}

function summary(e: WindowsCommand): string {
  const line = `${e.program} ${e.argv.join(' ')}`;
  return (e.decoded !== undefined ? `${line.slice(0, 120)} → ${e.decoded}` : line).slice(0, 300);
}

/** One finding per rule and phase, its evidence the shim log's entries (at most 20). */
export function windowsShimFindings(entries: readonly WindowsCommand[]): Finding[] {
  const groups = new Map<string, { rule: RuleInfo; phase: WindowsCommand['phase']; items: WindowsCommand[] }>();
  for (const e of entries) {
    const rule = WINDOWS_SHIM_RULES[isPowershellPayload(e) ? 0 : 1]!;
    const key = `${rule.id}:${e.phase}`;
    const g = groups.get(key) ?? { rule, phase: e.phase, items: [] };
    g.items.push(e);
    groups.set(key, g);
  }
  return [...groups.values()].map(({ rule, phase, items }) => ({
    rule: rule.id, severity: rule.severity, phase,
    title: rule.id === 'windows-powershell-payload'
      ? `PowerShell payload run (${items.length}×): ${summary(items[0]!).slice(0, 160)}`
      : `Windows program run (${items.length}×): ${[...new Set(items.map((i) => baseName(i.program)))].slice(0, 5).join(', ')}`,
    evidence: items.slice(0, 20).map((e, i) => ({ phase, seq: i, line: e.line, pid: e.pid, file: 'windows-shims.jsonl', summary: summary(e) })),
  }));
}
