/**
 * Screening of requirement strings (a distribution's `Requires-Dist`, an sdist's build requirements)
 * before they reach pip's command line.
 *
 * Security: they come from the package under audit. Each must start with a project name (so none can
 * be read as a pip option such as `--index-url` or `-r`), be one line, and not be a direct reference
 * (`name @ https://…`, which would make the slave fetch an arbitrary URL). Markers are left to pip,
 * which evaluates them for the guest's interpreter (`extra == "…"` ones drop out).
 */

export interface ScreenedRequirements {
  accepted: string[];
  /** Refused requirements, with the reason. */
  refused: { requirement: string; reason: string }[];
}

const NAME_START = /^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[A-Za-z0-9._,\s-]*\])?\s*/;

/** Splits requirements into those pip may be given and those refused. */
export function screenRequirements(reqs: readonly string[]): ScreenedRequirements {
  const out: ScreenedRequirements = { accepted: [], refused: [] };
  for (const raw of reqs) {
    const r = raw.trim();
    const refuse = (reason: string): void => void out.refused.push({ requirement: r.slice(0, 200), reason });
    if (!r) continue;
    if (r.length > 500 || /[\r\n\0]/.test(r)) refuse('not a one-line requirement');
    else if (!NAME_START.test(r)) refuse('does not start with a project name');
    else if (r.split(';')[0]!.includes('@')) refuse('direct references (name @ URL) are not fetched');
    else if (!out.accepted.includes(r)) out.accepted.push(r);
  }
  return out;
}
