/**
 * The static tasks run none of the package's code (which is what lets VM audits run them in the host's
 * bubblewrap sandbox): the fixture `lint-hostile` ships modules that shadow pylint, pycodestyle and
 * astroid at its root, a `gi` package that astroid's gi brain would import, and pylint and pycodestyle
 * configuration (setup.cfg, tox.ini, .pylintrc, pylintrc, pyproject `[tool.pylint]`) that loads a
 * plugin of its own, runs an init-hook, and disables or ignores every message. Each of its modules
 * prints PYTI-LINT-PWNED when run. Audited in the real bwrap sandbox, with everything that runs the
 * package (build onwards) left out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditOutcome } from '@pyti/slave';
import { auditDistribution, BwrapBackend } from '@pyti/slave';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildFixture } from './fixture-dists.js';

describe('lint and style of a package that tries to make the linters run it', () => {
  let outcome: AuditOutcome;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pyti-lint-hostile-'));
    outcome = await auditDistribution({
      distPath: buildFixture('lint-hostile', 'sdist'), outDir: join(dir, 'out'), backend: new BwrapBackend(), skip: ['build'], bait: false,
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs pylint and pycodestyle themselves, with our options, and none of the package\'s modules', () => {
    const r = outcome.report;
    expect(r.tasks.map((t) => [t.id, t.status])).toEqual([['inspect', 'pass'], ['lint', 'pass'], ['style', 'pass']]);
    // Nothing of the package ran: not in any task's output, not in any raw file.
    for (const t of r.tasks) expect(t.outputTail ?? '').not.toContain('PYTI-LINT-PWNED');
    for (const task of readdirSync(join(outcome.outDir, 'raw'))) {
      for (const f of readdirSync(join(outcome.outDir, 'raw', task))) expect(readFileSync(join(outcome.outDir, 'raw', task, f), 'utf8')).not.toContain('PYTI-LINT-PWNED');
    }
    // pylint linted the package (its configuration, which disables every message, was not read)…
    const symbols = r.lint!.messages.map((m) => m.symbol);
    expect(symbols).toContain('multiple-statements');
    expect(r.lint!.messages.some((m) => m.path.startsWith('lint_hostile/'))).toBe(true);
    // … and pycodestyle counted its violations (setup.cfg and tox.ini ignore E and W and exclude the package).
    expect(r.style!.byCode.E225?.count).toBeGreaterThan(0);
    expect(r.style!.examples.some((e) => e.path.includes('lint_hostile'))).toBe(true);
  });
});
